"""Durable background jobs stored in the operational database, claimed with leases.

An app declares its jobs in its ``tasks.py``::

    @job("service.sla_sweep")
    def sla_sweep() -> dict:
        return ticket_sla_mark_breaches()

    periodic("service.sla_sweep", every=dt.timedelta(minutes=5))

``enqueue(name, payload)`` adds a row to ``core.Job``; ``cuore worker`` (a ``Worker``) enqueues the
due occurrences of the periodic jobs and runs the queued ones. A worker claims a job by setting a
lease that a heartbeat thread renews while the handler runs; a worker that is killed stops renewing
it, and once it has expired another worker claims the job again, so a killed worker loses nothing.
The price is that a handler may run more than once for one job (its work committed, the worker
killed before recording that): handlers must be idempotent. Failures are retried with exponential
backoff up to the job's ``max_attempts``, then the job is marked failed with the error.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import socket
import threading
import time
import traceback
import uuid
import zoneinfo
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, IntegrityError, close_old_connections, connections, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from cuore.core.audit import audit_channel
from cuore.core.models import Channel, Job, JobStatus

Handler = Callable[..., Any]

DEFAULT_MAX_ATTEMPTS = 3
NAME_LIMIT = 100  # Job.name
RETRY_BASE = dt.timedelta(seconds=30)
RETRY_CAP = dt.timedelta(hours=1)
ERROR_LIMIT = 8000  # characters of the error and its traceback kept on the job
SHOWN_LIMIT = 200  # characters of a result or payload shown on one line of output

_handlers: dict[str, Handler] = {}
_schedules: dict[str, Periodic] = {}
_discovered = False
_discover_lock = threading.Lock()


# ---- declaring jobs ----------------------------------------------------------------------------------


def job(name: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of the jobs called ``name``.

    The handler gets the job's payload as keyword arguments (ids, not objects) and returns what JSON
    can hold, kept as the job's result. It may run more than once for one job, so it must be idempotent.
    """
    _check_name(name)

    def register(handler: Handler) -> Handler:
        existing = _handlers.get(name)
        if existing is not None and _qualified_name(existing) != _qualified_name(handler):
            raise ValueError(f"job {name!r} is already registered to {_qualified_name(existing)}")
        _handlers[name] = handler
        return handler

    return register


@dataclasses.dataclass(frozen=True)
class Periodic:
    """A job enqueued on a schedule: every fixed interval (counted from the Unix epoch), or daily at a local time."""

    name: str
    every: dt.timedelta | None = None
    daily_at: dt.time | None = None
    payload: dict[str, Any] = dataclasses.field(default_factory=dict)
    max_attempts: int = DEFAULT_MAX_ATTEMPTS

    def occurrence(self, now: dt.datetime) -> dt.datetime:
        """Return the latest scheduled time at or before ``now``, in UTC."""
        if self.every is not None:
            epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
            return epoch + self.every * ((now - epoch) // self.every)
        assert self.daily_at is not None
        # A time the clock skips (spring forward) falls an hour later; one it repeats, the first time.
        zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        today = now.astimezone(zone).date()
        at = dt.datetime.combine(today, self.daily_at, tzinfo=zone)
        if at > now:
            at = dt.datetime.combine(today - dt.timedelta(days=1), self.daily_at, tzinfo=zone)
        return at.astimezone(dt.UTC)

    def dedupe_key(self, occurrence: dt.datetime) -> str:
        """Name the occurrence, so that however many workers enqueue it, one job exists."""
        return f"{self.name}@{occurrence.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ}"

    def describe(self) -> str:
        if self.every is not None:
            return f"every {_duration(self.every)}"
        assert self.daily_at is not None
        return f"daily at {self.daily_at:%H:%M} {settings.TIME_ZONE}"


def periodic(
    name: str,
    *,
    every: dt.timedelta | None = None,
    daily_at: str | dt.time | None = None,
    payload: dict[str, Any] | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> Periodic:
    """Declare that the job ``name`` runs ``every`` interval, or daily at ``daily_at`` ("HH:MM" in TIME_ZONE)."""
    _check_name(name)
    if (every is None) == (daily_at is None):
        raise ValueError(f"periodic job {name!r}: give either every= or daily_at=")
    if every is not None and every < dt.timedelta(seconds=1):
        raise ValueError(f"periodic job {name!r}: every= must be at least one second")
    if isinstance(daily_at, str):
        try:
            daily_at = dt.datetime.strptime(daily_at, "%H:%M").time()
        except ValueError:
            raise ValueError(f"periodic job {name!r}: daily_at={daily_at!r} is not a time (HH:MM)") from None
    _check_max_attempts(max_attempts)
    schedule = Periodic(
        name=name, every=every, daily_at=daily_at, payload=_as_json(payload or {}), max_attempts=max_attempts
    )
    existing = _schedules.get(name)
    if existing is not None and existing != schedule:
        raise ValueError(f"periodic job {name!r} is already declared {existing.describe()}")
    _schedules[name] = schedule
    return schedule


def jobs_discover() -> None:
    """Import every installed app's ``tasks`` module, where the handlers and schedules are declared."""
    global _discovered
    with _discover_lock:
        if not _discovered:
            autodiscover_modules("tasks")
            orphans = sorted(set(_schedules) - set(_handlers))
            if orphans:
                raise ValueError(f"periodic jobs without a handler (@job): {', '.join(orphans)}")
            _discovered = True


def registered_jobs() -> dict[str, Handler]:
    """Return the handlers by job name."""
    jobs_discover()
    return dict(_handlers)


def periodic_jobs() -> list[Periodic]:
    """Return the periodic jobs the apps declare."""
    jobs_discover()
    return list(_schedules.values())


# ---- enqueuing ---------------------------------------------------------------------------------------


def enqueue(
    name: str,
    payload: dict[str, Any] | None = None,
    *,
    run_after: dt.datetime | None = None,
    dedupe_key: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> Job:
    """Queue a job for the handler ``name``; with a ``dedupe_key`` already used, return that job instead.

    The job is a row of the operational database: enqueued inside a transaction, it exists only if
    the transaction commits, so no job runs for a change that was rolled back.
    """
    return _enqueue(name, payload, run_after=run_after, dedupe_key=dedupe_key, max_attempts=max_attempts)[0]


def _enqueue(
    name: str,
    payload: dict[str, Any] | None,
    *,
    run_after: dt.datetime | None,
    dedupe_key: str | None,
    max_attempts: int,
) -> tuple[Job, bool]:
    if name not in registered_jobs():
        raise ValueError(f"no job handler is registered as {name!r}")
    if payload is not None and not isinstance(payload, dict):
        raise TypeError("a job's payload is a dict of the handler's keyword arguments")
    if run_after is not None and timezone.is_naive(run_after):
        raise ValueError("run_after must be an aware datetime")
    _check_max_attempts(max_attempts)
    fields = {
        "name": name,
        # As the handler will get it: what JSON makes of it (dates become ISO strings).
        "payload": _as_json(payload or {}),
        "run_after": run_after or timezone.now(),
        "max_attempts": max_attempts,
        "dedupe_key": dedupe_key or None,
    }
    if not dedupe_key:
        return Job.objects.create(**fields), True
    try:
        with transaction.atomic():
            return Job.objects.create(**fields), True
    except IntegrityError:
        existing = Job.objects.filter(dedupe_key=dedupe_key).first()
        if existing is None:
            raise
        return existing, False


def periodic_enqueue_due(
    *,
    schedules: Iterable[Periodic] | None = None,
    now: dt.datetime | None = None,
    done: dict[str, str] | None = None,
) -> list[Job]:
    """Enqueue the latest due occurrence of each periodic job, once; return the jobs this call created.

    Only the latest occurrence counts: a worker that was stopped for a day runs the 5-minute sweep
    once, not 288 times. While an earlier job of the same name is still queued or running the new
    occurrence waits, so a slow job never piles up. ``done`` (name → key) lets a worker skip the
    occurrences it has already handled without asking the database.
    """
    now = now or timezone.now()
    created_jobs = []
    for schedule in periodic_jobs() if schedules is None else schedules:
        occurrence = schedule.occurrence(now)
        key = schedule.dedupe_key(occurrence)
        if done is not None and done.get(schedule.name) == key:
            continue
        pending = Job.objects.filter(name=schedule.name, status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        if pending.exclude(dedupe_key=key).exists():
            continue
        queued, created = _enqueue(
            schedule.name,
            schedule.payload,
            run_after=occurrence,
            dedupe_key=key,
            max_attempts=schedule.max_attempts,
        )
        if done is not None:
            done[schedule.name] = key
        if created:
            created_jobs.append(queued)
    return created_jobs


# ---- claiming and running ----------------------------------------------------------------------------


def _due(now: dt.datetime) -> Q:
    return Q(status=JobStatus.QUEUED, run_after__lte=now) | Q(status=JobStatus.RUNNING, lease_until__lt=now)


def job_claim(*, worker_id: str, lease_seconds: float, now: dt.datetime | None = None) -> Job | None:
    """Take the oldest due job, or a running one whose lease expired, for ``worker_id``; None when none is due.

    Two workers never take the same job. On PostgreSQL the candidate row is locked with SKIP LOCKED,
    so other workers pass over it to the next one. On SQLite the transaction is immediate (the write
    lock is taken at BEGIN, see config/env.py) and the claim is an UPDATE that only succeeds while the
    row is still due, which holds even if the transaction were not. An idle poll only reads.
    """
    now = now or timezone.now()
    if not Job.objects.filter(_due(now)).exists():
        return None
    with transaction.atomic():
        while True:
            candidates = Job.objects.filter(_due(now)).order_by("run_after", "id")
            if connections[Job.objects.db].features.has_select_for_update_skip_locked:
                candidates = candidates.select_for_update(skip_locked=True)
            candidate = candidates.only("id", "status", "attempts", "max_attempts").first()
            if candidate is None:
                return None
            if candidate.status == JobStatus.RUNNING and candidate.attempts >= candidate.max_attempts:
                # Its worker died during the last attempt: the job has had all it may have.
                Job.objects.filter(pk=candidate.pk, status=JobStatus.RUNNING, lease_until__lt=now).update(
                    status=JobStatus.FAILED,
                    lease_until=None,
                    finished_at=now,
                    last_error=f"the worker running attempt {candidate.attempts} stopped renewing its lease",
                )
                continue
            if _take(candidate.pk, worker_id=worker_id, lease_seconds=lease_seconds, now=now):
                return Job.objects.get(pk=candidate.pk)


def _take(job_id: int, *, worker_id: str, lease_seconds: float, now: dt.datetime) -> bool:
    """Claim the job if it is still due (a conditional UPDATE); False when another worker got there first."""
    return bool(
        Job.objects.filter(pk=job_id)
        .filter(_due(now))
        .update(
            status=JobStatus.RUNNING,
            attempts=F("attempts") + 1,
            lease_until=now + dt.timedelta(seconds=lease_seconds),
            worker_id=worker_id,
            started_at=now,
            finished_at=None,
        )
    )


def _owned(job: Job) -> QuerySet[Job]:
    """The job, as long as this claim of it still holds (same worker, same attempt, still running)."""
    return Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, worker_id=job.worker_id, attempts=job.attempts)


class _LeaseKeeper(threading.Thread):
    """Renew a running job's lease every third of its length, in its own thread and connection."""

    def __init__(self, job: Job, lease_seconds: float):
        super().__init__(name=f"cuore-job-{job.pk}-lease", daemon=True)
        self.job = job
        self.lease_seconds = lease_seconds
        self._stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self._stopped.wait(self.lease_seconds / 3):
                try:
                    renewed = _owned(self.job).update(
                        lease_until=timezone.now() + dt.timedelta(seconds=self.lease_seconds)
                    )
                except DatabaseError:
                    continue  # e.g. SQLite busy while the job itself writes: the next beat tries again
                if not renewed:
                    return  # another worker has the job now: job_run will record nothing
        finally:
            connections.close_all()  # this thread's connections only

    def stop(self) -> None:
        self._stopped.set()
        self.join()


@dataclasses.dataclass
class Outcome:
    """What running a job came to, as recorded (``recorded`` is False when the claim was lost meanwhile)."""

    job: Job
    succeeded: bool
    seconds: float
    recorded: bool

    def describe(self) -> str:
        job = self.job
        head = f"job {job.pk} {job.name}:"
        if not self.recorded:
            return f"{head} the lease was lost (now {job.status}, worker {job.worker_id or '-'}); outcome not recorded"
        if self.succeeded:
            shown = "" if job.result is None else f": {_shown(job.result)}"
            return f"{head} succeeded in {self.seconds:.2f} s{shown}"
        error = _first_line(job.last_error)
        if job.status == JobStatus.FAILED:
            return f"{head} failed after {job.attempts} attempts ({error})"
        return f"{head} attempt {job.attempts} of {job.max_attempts} failed ({error}); next at {_when(job.run_after)}"


def retry_delay(attempts: int) -> dt.timedelta:
    """Return how long to wait after the ``attempts``-th failure: 30 s, 1 min, 2 min, … up to an hour."""
    return min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_CAP)


def job_run(job: Job, *, lease_seconds: float) -> Outcome:
    """Run a claimed job's handler with the audit channel "job", renewing its lease, and record how it went."""
    handler = registered_jobs().get(job.name)
    keeper = _LeaseKeeper(job, lease_seconds)
    keeper.start()
    started = time.monotonic()
    error = ""
    result: Any = None
    try:
        if handler is None:
            raise LookupError(f"no job handler is registered as {job.name!r}")
        with audit_channel(Channel.JOB):
            result = _as_json(handler(**job.payload))
    except Exception as exc:
        error = _error_text(exc)
    finally:
        keeper.stop()
    seconds = time.monotonic() - started
    now = timezone.now()
    if not error:
        recorded = _owned(job).update(
            status=JobStatus.SUCCEEDED, result=result, lease_until=None, finished_at=now, last_error=""
        )
    elif job.attempts < job.max_attempts:
        recorded = _owned(job).update(
            status=JobStatus.QUEUED, lease_until=None, last_error=error, run_after=now + retry_delay(job.attempts)
        )
    else:
        recorded = _owned(job).update(status=JobStatus.FAILED, lease_until=None, last_error=error, finished_at=now)
    job.refresh_from_db()
    return Outcome(job=job, succeeded=not error, seconds=seconds, recorded=bool(recorded))


class Worker:
    """Enqueue the due periodic jobs and run the due jobs, one at a time, until stopped or nothing is due."""

    def __init__(
        self,
        *,
        poll_seconds: float = 1.0,
        lease_seconds: float | None = None,
        worker_id: str | None = None,
        schedules: Iterable[Periodic] | None = None,
        say: Callable[[str], None] | None = None,
    ):
        self.poll_seconds = poll_seconds
        self.lease_seconds = lease_seconds or settings.JOB_LEASE_SECONDS
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.schedules = None if schedules is None else list(schedules)  # None: the apps' periodic jobs
        self.say = say or _print
        self._stop = threading.Event()
        self._scheduled: dict[str, str] = {}

    def stop(self) -> None:
        """Stop once the current job (if any) is done."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds``, less if stopped meanwhile; return whether it was stopped."""
        return self._stop.wait(seconds)

    def step(self) -> bool:
        """Enqueue the due periodic occurrences, then run one due job; return False when none was due."""
        for queued in periodic_enqueue_due(schedules=self.schedules, done=self._scheduled):
            self.say(f"job {queued.pk} {queued.name}: enqueued for {_when(queued.run_after)}")
        claimed = job_claim(worker_id=self.worker_id, lease_seconds=self.lease_seconds)
        if claimed is None:
            return False
        self.say(job_run(claimed, lease_seconds=self.lease_seconds).describe())
        return True

    def run_once(self) -> int:
        """Run what is due now, then return how many jobs ran."""
        ran = 0
        while not self.stopping and self.step():
            ran += 1
        return ran

    def run_forever(self) -> None:
        """Poll every ``poll_seconds`` until ``stop()``; database errors are reported and tried again."""
        Job.objects.exists()  # an unusable database stops the worker at once, with the reason
        self.say(f"worker {self.worker_id}: polling every {self.poll_seconds:g} s, leases of {self.lease_seconds:g} s")
        while not self.stopping:
            close_old_connections()  # as around a request: drop connections past their age or broken
            try:
                ran = self.step()
            except DatabaseError as exc:
                self.say(f"worker {self.worker_id}: database error ({_first_line(str(exc))}); trying again")
                ran = False
            close_old_connections()
            if not ran:
                self.wait(self.poll_seconds)
        self.say(f"worker {self.worker_id}: stopped")


# ---- listing -----------------------------------------------------------------------


def jobs_recent(*, limit: int = 20, status: str | None = None) -> list[Job]:
    """Return the latest jobs, newest first."""
    jobs = Job.objects.order_by("-id")
    if status:
        jobs = jobs.filter(status=status)
    return list(jobs[:limit])


def job_line(job: Job) -> str:
    """Describe a job on one line: id, status, name, attempts, its latest time and its result or error."""
    if job.status == JobStatus.SUCCEEDED:
        detail = f"finished {_when(job.finished_at)}" + ("" if job.result is None else f"  {_shown(job.result)}")
    elif job.status == JobStatus.FAILED:
        detail = f"finished {_when(job.finished_at)}  {_first_line(job.last_error)}"
    elif job.status == JobStatus.RUNNING:
        detail = f"started {_when(job.started_at)} by {job.worker_id}, lease until {_when(job.lease_until)}"
    else:
        detail = f"due {_when(job.run_after)}"
        if job.last_error:
            detail += f"  last error: {_first_line(job.last_error)}"
    return f"{job.pk:>7} {job.status:<9} {job.name:<24} {job.attempts}/{job.max_attempts}  {detail}"


# ---- helpers -----------------------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if not name or len(name) > NAME_LIMIT or name != name.strip():
        raise ValueError(f"{name!r} is not a job name (up to 100 characters, no surrounding spaces)")


def _check_max_attempts(max_attempts: int) -> None:
    if not 1 <= max_attempts <= 1000:
        raise ValueError(f"max_attempts={max_attempts!r}: give a number from 1 to 1000")


def _qualified_name(handler: Handler) -> str:
    return f"{handler.__module__}.{handler.__qualname__}"


def _as_json(value: Any) -> Any:
    """Return ``value`` as it comes back from JSON; raise TypeError when JSON cannot hold it."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _error_text(exc: BaseException) -> str:
    """The error on its first line, then the traceback (its end, where the error is, when it is long)."""
    head = _first_line(f"{type(exc).__name__}: {exc}")[:500]
    trace = "".join(traceback.format_exception(exc))
    if len(trace) > ERROR_LIMIT:
        trace = "…" + trace[-ERROR_LIMIT:]
    return f"{head}\n\n{trace}"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)  # PostgreSQL's jsonb does not keep the order
    return text if len(text) <= SHOWN_LIMIT else text[: SHOWN_LIMIT - 1] + "…"


def _when(value: dt.datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z") if value else "-"


def _duration(value: dt.timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{value.total_seconds():g} s"


def _print(line: str) -> None:
    print(line, flush=True)


# ---- housekeeping (declared last: it uses the helpers above) ---------------------------------------


@job("core.jobs_prune")
def jobs_prune(*, days: int = 30) -> dict[str, int]:
    """Delete the jobs that finished more than ``days`` days ago (periodic occurrences are far younger)."""
    deleted, _ = Job.objects.filter(
        status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED], finished_at__lt=timezone.now() - dt.timedelta(days=days)
    ).delete()
    return {"deleted": deleted}


periodic("core.jobs_prune", daily_at="03:15")
