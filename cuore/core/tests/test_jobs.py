"""Background jobs: enqueue, claim with a lease, run, retry, periodic occurrences, concurrent workers."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.apps import apps
from django.db import IntegrityError, connections, transaction
from django.test import override_settings
from django.utils import timezone

from cuore.core import jobs
from cuore.core.audit import audit_channel, current_channel
from cuore.core.jobs import Periodic, Worker, enqueue, job, job_claim, job_run, periodic_enqueue_due
from cuore.core.models import AuditEntry, Job, JobStatus

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 9, 7, 30, tzinfo=dt.UTC)
LEASE = 300
SEC = dt.timedelta(seconds=1)


# ---- handlers used by these tests (registered once, when the module is imported) ----------------------

RECORDED: list[tuple[int, str]] = []
RECORDED_LOCK = threading.Lock()


@job("test.echo")
def echo(**payload):
    return {"payload": payload, "channel": current_channel()}


@job("test.boom")
def boom():
    raise ValueError("boom")


@job("test.record")
def record(n: int, pause: float = 0.0):
    with RECORDED_LOCK:
        RECORDED.append((n, threading.current_thread().name))
    time.sleep(pause)
    return n


@job("test.sleep")
def sleep(seconds: float):
    time.sleep(seconds)
    return "slept"


class Clock:
    """What ``timezone.now()`` answers while the test runs."""

    def __init__(self, now: dt.datetime):
        self.now = now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fixed = Clock(T0)
    monkeypatch.setattr(timezone, "now", lambda: fixed.now)
    return fixed


def claim(worker_id: str = "w1", lease: float = LEASE) -> Job | None:
    return job_claim(worker_id=worker_id, lease_seconds=lease)


# ---- enqueue, claim, run -------------------------------------------------------------------------------


def test_enqueue_claim_and_run_stores_the_result(clock):
    queued = enqueue("test.echo", {"contact_id": 7, "when": T0})

    assert (queued.status, queued.attempts, queued.max_attempts, queued.run_after) == ("queued", 0, 3, T0)
    assert queued.payload == {"contact_id": 7, "when": "2026-03-02T09:07:30Z"}  # as the handler will get it

    claimed = claim("worker-a")

    assert claimed.pk == queued.pk
    assert (claimed.status, claimed.attempts, claimed.worker_id) == ("running", 1, "worker-a")
    assert (claimed.started_at, claimed.lease_until) == (T0, T0 + LEASE * SEC)
    assert claim("worker-b") is None  # nothing else is due

    clock.advance(seconds=2)
    with audit_channel("api"):  # whoever runs the worker, the job's writes are the job channel's
        outcome = job_run(claimed, lease_seconds=LEASE)

    assert (outcome.succeeded, outcome.recorded) == (True, True)
    done = Job.objects.get(pk=queued.pk)
    assert (done.status, done.attempts, done.lease_until, done.finished_at) == ("succeeded", 1, None, T0 + 2 * SEC)
    assert done.result == {"payload": {"contact_id": 7, "when": "2026-03-02T09:07:30Z"}, "channel": "job"}
    assert outcome.describe().startswith(f"job {done.pk} test.echo: succeeded in ")
    assert claim() is None


def test_jobs_are_claimed_oldest_due_first_and_not_before_run_after(clock):
    later = enqueue("test.echo", {"n": 1}, run_after=T0 + 60 * SEC)
    second = enqueue("test.echo", {"n": 2}, run_after=T0 - 10 * SEC)
    first = enqueue("test.echo", {"n": 3}, run_after=T0 - 20 * SEC)

    assert [claim().pk, claim().pk, claim()] == [first.pk, second.pk, None]

    clock.advance(seconds=60)

    assert claim().pk == later.pk


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: enqueue("test.nobody"), ValueError, "no job handler is registered as 'test.nobody'"),
        (lambda: enqueue("test.echo", {"x": object()}), TypeError, "is not JSON serializable"),
        (lambda: enqueue("test.echo", [1, 2]), TypeError, "a job's payload is a dict"),
        (lambda: enqueue("test.echo", max_attempts=0), ValueError, "max_attempts=0"),
        (lambda: enqueue("test.echo", run_after=dt.datetime(2026, 1, 1)), ValueError, "aware"),
    ],
    ids=["unknown-name", "not-json", "not-a-dict", "no-attempts", "naive-time"],
)
def test_enqueue_refuses_what_no_worker_could_run(call, error, message):
    with pytest.raises(error, match=message):
        call()

    assert Job.objects.count() == 0


def test_a_job_enqueued_in_a_rolled_back_transaction_does_not_exist():
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue("test.echo", {"n": 1})
        raise RuntimeError("the change is rolled back, and its job with it")

    assert Job.objects.count() == 0


def test_the_database_refuses_an_unknown_status_and_a_running_job_without_lease():
    queued = enqueue("test.echo")

    for change in ({"status": "paused"}, {"status": JobStatus.RUNNING, "lease_until": None}, {"attempts": 4}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Job.objects.filter(pk=queued.pk).update(**change)


# ---- failures ------------------------------------------------------------------------------------------


def test_a_failing_job_is_retried_with_exponential_backoff_then_fails(clock):
    queued = enqueue("test.boom")

    outcome = job_run(claim(), lease_seconds=LEASE)

    failed_once = Job.objects.get(pk=queued.pk)
    assert (failed_once.status, failed_once.attempts, failed_once.run_after) == ("queued", 1, T0 + 30 * SEC)
    assert (failed_once.lease_until, failed_once.finished_at) == (None, None)
    assert failed_once.last_error.startswith("ValueError: boom\n\nTraceback (most recent call last):\n")
    assert 'raise ValueError("boom")' in failed_once.last_error
    assert outcome.describe() == (
        f"job {queued.pk} test.boom: attempt 1 of 3 failed (ValueError: boom); next at 2026-03-02 09:08:00 UTC"
    )

    clock.advance(seconds=29)
    assert claim() is None  # not before its backoff
    clock.advance(seconds=1)
    job_run(claim(), lease_seconds=LEASE)

    failed_twice = Job.objects.get(pk=queued.pk)
    assert (failed_twice.status, failed_twice.attempts, failed_twice.run_after) == ("queued", 2, clock.now + 60 * SEC)

    clock.advance(seconds=60)
    outcome = job_run(claim(), lease_seconds=LEASE)

    failed = Job.objects.get(pk=queued.pk)
    assert (failed.status, failed.attempts, failed.finished_at) == ("failed", 3, clock.now)
    assert failed.last_error.startswith("ValueError: boom\n")
    assert outcome.describe() == f"job {queued.pk} test.boom: failed after 3 attempts (ValueError: boom)"
    clock.advance(days=1)
    assert claim() is None


def test_backoff_doubles_up_to_an_hour():
    assert [jobs.retry_delay(n).total_seconds() for n in (1, 2, 3, 4, 7, 8, 20)] == [
        30,
        60,
        120,
        240,
        1920,
        3600,
        3600,
    ]


def test_a_job_without_a_handler_fails_like_any_other(clock):
    queued = enqueue("test.echo", max_attempts=1)
    Job.objects.filter(pk=queued.pk).update(name="test.removed")  # enqueued by code that is gone

    job_run(claim(), lease_seconds=LEASE)

    failed = Job.objects.get(pk=queued.pk)
    assert failed.status == "failed"
    assert failed.last_error.startswith("LookupError: no job handler is registered as 'test.removed'\n")


# ---- leases --------------------------------------------------------------------------------------------


def test_a_job_whose_lease_expired_is_claimed_again_and_the_old_claim_records_nothing(clock):
    queued = enqueue("test.echo", {"n": 1})
    lost = claim("worker-a", lease=60)

    clock.advance(seconds=59)
    assert claim("worker-b", lease=60) is None  # worker-a still holds it
    clock.advance(seconds=2)
    taken_over = claim("worker-b", lease=60)

    assert taken_over.pk == queued.pk
    assert (taken_over.status, taken_over.attempts, taken_over.worker_id) == ("running", 2, "worker-b")
    assert taken_over.lease_until == clock.now + 60 * SEC

    # worker-a was not dead after all, only slow: its outcome is not recorded over worker-b's claim.
    late = job_run(lost, lease_seconds=60)

    assert late.recorded is False
    assert late.describe() == (
        f"job {queued.pk} test.echo: the lease was lost (now running, worker worker-b); outcome not recorded"
    )
    assert Job.objects.values_list("status", "worker_id", "attempts").get(pk=queued.pk) == ("running", "worker-b", 2)

    assert job_run(taken_over, lease_seconds=60).recorded is True
    assert Job.objects.get(pk=queued.pk).status == "succeeded"


def test_a_job_whose_worker_died_on_its_last_attempt_fails(clock):
    queued = enqueue("test.echo", max_attempts=1)
    claim("worker-a", lease=60)

    clock.advance(seconds=61)

    assert claim("worker-b") is None
    failed = Job.objects.get(pk=queued.pk)
    assert (failed.status, failed.attempts, failed.lease_until, failed.finished_at) == ("failed", 1, None, clock.now)
    assert failed.last_error == "the worker running attempt 1 stopped renewing its lease"


def test_the_conditional_claim_refuses_a_job_another_worker_took(clock):
    queued = enqueue("test.echo")
    # Both workers saw the job due; worker-a's UPDATE lands first.
    assert jobs._take(queued.pk, worker_id="worker-a", lease_seconds=LEASE, now=T0) is True

    assert jobs._take(queued.pk, worker_id="worker-b", lease_seconds=LEASE, now=T0) is False
    assert Job.objects.values_list("worker_id", "attempts").get(pk=queued.pk) == ("worker-a", 1)


@pytest.mark.django_db(transaction=True)
def test_a_long_job_renews_its_lease_so_no_other_worker_takes_it():
    queued = enqueue("test.sleep", {"seconds": 1.5})
    claimed = claim("worker-a", lease=0.6)
    first_lease = claimed.lease_until
    stolen: list[Job] = []

    def try_to_steal() -> None:
        try:
            deadline = time.monotonic() + 1.4
            while time.monotonic() < deadline:
                if (taken := claim("worker-b", lease=0.6)) is not None:
                    stolen.append(taken)
                time.sleep(0.05)
        finally:
            connections.close_all()

    thief = threading.Thread(target=try_to_steal)
    thief.start()
    outcome = job_run(claimed, lease_seconds=0.6)  # 1.5 s of work on a 0.6 s lease
    thief.join()

    assert stolen == []
    assert outcome.recorded is True
    done = Job.objects.get(pk=queued.pk)
    assert (done.status, done.attempts, done.worker_id, done.result) == ("succeeded", 1, "worker-a", "slept")
    assert done.finished_at > first_lease  # the work outlived the first lease: it was renewed


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_run_the_same_job():
    RECORDED.clear()
    numbers = list(range(40))
    for n in numbers:
        enqueue("test.record", {"n": n, "pause": 0.005})
    start = threading.Barrier(4)
    ran: dict[str, int] = {}

    def work(name: str) -> None:
        try:
            start.wait()
            ran[name] = Worker(worker_id=name, lease_seconds=LEASE, schedules=[], say=lambda line: None).run_once()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(f"worker-{i}",), name=f"worker-{i}") for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(n for n, _ in RECORDED) == numbers  # every job ran, and exactly once
    assert sum(ran.values()) == len(numbers)
    assert list(Job.objects.values_list("status", "attempts").distinct()) == [("succeeded", 1)]
    by_worker = dict(Job.objects.values_list("result", "worker_id"))
    assert all(by_worker[n] == thread for n, thread in RECORDED)  # recorded by the worker that ran it


# ---- periodic jobs -------------------------------------------------------------------------------------


def test_a_periodic_occurrence_is_enqueued_once_however_many_workers_schedule_it(clock):
    every_five = Periodic(name="test.echo", every=dt.timedelta(minutes=5), payload={"kind": "sweep"})

    first = periodic_enqueue_due(schedules=[every_five])
    second = periodic_enqueue_due(schedules=[every_five])  # another worker, same moment

    assert second == []
    [queued] = first
    assert (queued.name, queued.payload, queued.run_after) == (
        "test.echo",
        {"kind": "sweep"},
        T0.replace(minute=5, second=0),
    )
    assert queued.dedupe_key == "test.echo@2026-03-02T09:05:00Z"
    assert Job.objects.count() == 1

    # The next occurrence waits while this one is still queued ...
    clock.advance(minutes=5)
    assert periodic_enqueue_due(schedules=[every_five]) == []
    # ... and is enqueued once it has run.
    job_run(claim(), lease_seconds=LEASE)
    [following] = periodic_enqueue_due(schedules=[every_five])

    assert following.dedupe_key == "test.echo@2026-03-02T09:10:00Z"
    assert Job.objects.count() == 2


def test_only_the_latest_missed_occurrence_is_enqueued(clock):
    every_five = Periodic(name="test.echo", every=dt.timedelta(minutes=5))
    periodic_enqueue_due(schedules=[every_five])
    job_run(claim(), lease_seconds=LEASE)

    clock.advance(days=1)  # the workers were stopped for a day
    [caught_up] = periodic_enqueue_due(schedules=[every_five])

    assert caught_up.run_after == dt.datetime(2026, 3, 3, 9, 5, tzinfo=dt.UTC)
    assert Job.objects.count() == 2


@override_settings(TIME_ZONE="Europe/Rome")
@pytest.mark.parametrize(
    ("now", "occurrence"),
    [
        # summer (UTC+2): 02:30 local is 00:30 UTC
        (dt.datetime(2026, 7, 1, 0, 29, tzinfo=dt.UTC), dt.datetime(2026, 6, 30, 0, 30, tzinfo=dt.UTC)),
        (dt.datetime(2026, 7, 1, 0, 30, tzinfo=dt.UTC), dt.datetime(2026, 7, 1, 0, 30, tzinfo=dt.UTC)),
        # winter (UTC+1): 01:30 UTC
        (dt.datetime(2026, 1, 15, 23, 0, tzinfo=dt.UTC), dt.datetime(2026, 1, 15, 1, 30, tzinfo=dt.UTC)),
        # the night the clocks go forward 02:00 → 03:00, 02:30 does not exist and falls an hour later
        (dt.datetime(2026, 3, 29, 1, 29, tzinfo=dt.UTC), dt.datetime(2026, 3, 28, 1, 30, tzinfo=dt.UTC)),
        (dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC), dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)),
    ],
)
def test_daily_jobs_run_at_the_local_time(now, occurrence):
    nightly = Periodic(name="test.echo", daily_at=dt.time(2, 30))

    assert nightly.occurrence(now) == occurrence
    assert nightly.describe() == "daily at 02:30 Europe/Rome"


def test_periodic_declarations_are_checked(monkeypatch):
    jobs.jobs_discover()  # the apps' declarations are in, so none lands in the stand-in below
    monkeypatch.setattr(jobs, "_schedules", {})

    declared = jobs.periodic("test.echo", daily_at="02:30")

    assert declared == Periodic(name="test.echo", daily_at=dt.time(2, 30))
    assert jobs.periodic("test.echo", daily_at="02:30") == declared  # declaring it again is harmless
    for kwargs, message in [
        ({"daily_at": "03:00"}, "already declared daily at 02:30"),
        ({}, "either every= or daily_at="),
        ({"every": dt.timedelta(minutes=5), "daily_at": "02:30"}, "either every= or daily_at="),
        ({"every": dt.timedelta(0)}, "at least one second"),
        ({"daily_at": "25:00"}, "is not a time"),
    ]:
        with pytest.raises(ValueError, match=message):
            jobs.periodic("test.echo", **kwargs)


def test_a_handler_name_belongs_to_one_function():
    with pytest.raises(ValueError, match="'test.echo' is already registered to cuore.core.tests.test_jobs.echo"):

        @job("test.echo")
        def impostor():
            return None


def test_worker_once_enqueues_the_due_occurrences_and_runs_them(clock):
    lines: list[str] = []
    schedules = [
        Periodic(name="test.echo", every=dt.timedelta(minutes=5), payload={"n": 1}),
        Periodic(name="test.record", daily_at=dt.time(3, 0), payload={"n": 2}),
    ]
    worker = Worker(worker_id="w", lease_seconds=LEASE, schedules=schedules, say=lines.append)

    assert worker.run_once() == 2

    assert sorted(Job.objects.values_list("dedupe_key", "status")) == [
        ("test.echo@2026-03-02T09:05:00Z", "succeeded"),
        ("test.record@2026-03-02T03:00:00Z", "succeeded"),
    ]
    echo_job, record_job = Job.objects.order_by("name")
    assert lines[:2] == [
        f"job {echo_job.pk} test.echo: enqueued for 2026-03-02 09:05:00 UTC",
        f"job {record_job.pk} test.record: enqueued for 2026-03-02 03:00:00 UTC",
    ]
    assert lines[2].startswith(f"job {record_job.pk} test.record: succeeded in ")  # the older occurrence first
    assert lines[3].startswith(f"job {echo_job.pk} test.echo: succeeded in ")
    assert worker.run_once() == 0
    assert Job.objects.count() == 2


# ---- the apps' jobs ------------------------------------------------------------------------------------


def test_the_apps_declare_their_jobs_and_schedules():
    handlers = jobs.registered_jobs()
    schedules = {schedule.name: schedule for schedule in jobs.periodic_jobs()}

    assert {"service.sla_sweep", "analytics.nightly", "analytics.run", "core.jobs_prune"} <= set(handlers)
    assert handlers["service.sla_sweep"].__module__ == "cuore.service.tasks"
    assert handlers["analytics.nightly"].__module__ == "cuore.analytics.tasks"
    assert handlers["analytics.run"].__module__ == "cuore.analytics.tasks"  # on demand (the API), not periodic
    assert "analytics.run" not in schedules
    assert schedules["service.sla_sweep"].every == dt.timedelta(minutes=5)
    assert (schedules["analytics.nightly"].every, schedules["analytics.nightly"].daily_at) == (None, dt.time(2, 30))
    assert schedules["core.jobs_prune"].daily_at == dt.time(3, 15)


def test_the_sla_sweep_job_flags_breached_tickets_on_the_job_channel(clock):
    # Looked up by name: core may not import the service app (the import layers).
    ticket_model = apps.get_model("service", "Ticket")
    late = ticket_model.objects.create(number="TCK-1", subject="Printer", first_response_due=T0 - 60 * SEC)
    on_time = ticket_model.objects.create(number="TCK-2", subject="Scanner", first_response_due=T0 + 60 * SEC)
    queued = enqueue("service.sla_sweep")

    job_run(claim(), lease_seconds=LEASE)

    done = Job.objects.get(pk=queued.pk)
    assert (done.status, done.result) == ("succeeded", {"first_response": 1, "resolution": 0})
    assert ticket_model.objects.filter(first_response_breached=True).get().pk == late.pk
    assert not ticket_model.objects.get(pk=on_time.pk).first_response_breached
    entry = AuditEntry.objects.get(action="ticket.sla_breach")
    assert (entry.object_id, entry.channel) == (str(late.pk), "job")


def test_the_nightly_analytics_job_stores_its_run():
    queued = enqueue("analytics.nightly")

    job_run(claim(), lease_seconds=LEASE)

    done = Job.objects.get(pk=queued.pk)
    assert done.status == "succeeded", done.last_error
    run = apps.get_model("analytics", "AnalyticsRun").objects.get()
    assert done.result == {"run_id": run.pk}


def test_prune_deletes_jobs_finished_long_ago(clock):
    old, recent, waiting = (enqueue("test.echo", {"n": n}) for n in range(3))
    for _ in (old, recent):
        job_run(claim(), lease_seconds=LEASE)
        clock.advance(days=20)
    prune = enqueue("core.jobs_prune")
    clock.advance(days=1)
    # Only `old`, finished 41 days ago, is older than 30 days; `waiting` has not run.
    Job.objects.filter(pk=waiting.pk).update(run_after=clock.now + dt.timedelta(days=1))

    job_run(claim(), lease_seconds=LEASE)

    assert Job.objects.get(pk=prune.pk).result == {"deleted": 1}
    assert set(Job.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk, prune.pk}


def test_jobs_are_listed_newest_first_one_line_each(clock):
    done = enqueue("test.echo", {"n": 1})
    job_run(claim(), lease_seconds=LEASE)
    failing = enqueue("test.boom")
    job_run(claim(), lease_seconds=LEASE)
    waiting = enqueue("test.echo", run_after=T0 + 3600 * SEC)

    lines = [jobs.job_line(listed) for listed in jobs.jobs_recent(limit=10)]

    assert lines == [
        f"{waiting.pk:>7} queued    test.echo                0/3  due 2026-03-02 10:07:30 UTC",
        f"{failing.pk:>7} queued    test.boom                1/3  due 2026-03-02 09:08:00 UTC  "
        "last error: ValueError: boom",
        f"{done.pk:>7} succeeded test.echo                1/3  finished 2026-03-02 09:07:30 UTC  "
        '{"channel": "job", "payload": {"n": 1}}',
    ]
    assert [listed.pk for listed in jobs.jobs_recent(limit=1, status="succeeded")] == [done.pk]
