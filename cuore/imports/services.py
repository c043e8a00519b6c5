"""Imports: upload a file, check how its columns are read, run it in the background, report what failed.

1. ``import_create`` keeps the uploaded file under ``DATA_DIR/imports/``, detects its format, encoding
   and delimiter (``reading``), and guesses the column mapping — the one saved for the same source and
   kind first, then from the headers (Italian and English).
2. ``import_mapping_set`` lets the user correct the mapping (saved for the source's next files);
   ``import_preview`` shows the first rows as they will be read, with each cell's problem.
3. ``import_start`` queues the job ``imports.run``; ``import_run`` streams the rows in chunks
   (constant memory), hands them to the kind's handler (``handlers``), records every failed row
   (line, column, reason) and its progress; after a contacts import, identity resolution links the
   new records. ``import_failed_csv`` gives the failed rows back as a CSV — the original cells plus an
   ``errors`` column — to fix and import again.
"""

from __future__ import annotations

import csv
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation

from cuore.contacts.models import ConsentChannel, ConsentEvent, ConsentPurpose, ConsentStatus, Contact
from cuore.contacts.services import consent_record
from cuore.core.audit import audit_channel, audit_record
from cuore.core.errors import Conflict, ValidationFailed
from cuore.core.jobs import enqueue
from cuore.core.models import Channel
from cuore.core.visibility import require_write
from cuore.identity import bulk
from cuore.identity.models import RecordKind, Source, SourceRecord
from cuore.identity.services import identity_resolve, source_ensure
from cuore.imports import reading
from cuore.imports.handlers import CHUNKS, RESOURCES, ChunkResult, Row, RowFailure
from cuore.imports.models import ImportJob, ImportKind, ImportMapping, ImportRowError, ImportStatus

CHUNK_ROWS = 500
MAX_BYTES = 1024**3
PROGRESS_EVERY = 2_000


def imports_dir() -> Path:
    return Path(settings.DATA_DIR) / "imports"


def _file_path(job: ImportJob) -> Path:
    return imports_dir() / job.path


def _failed_path(job: ImportJob) -> Path:
    return _file_path(job).parent / "failed.csv"


def _check_kind(kind: str) -> None:
    if kind not in ImportKind.values:
        raise ValidationFailed(field="kind", reason=f"must be one of {', '.join(ImportKind.values)}")


def _require(actor: Any, kind: str) -> None:
    require_write(actor, "imports")
    require_write(actor, RESOURCES[kind])


def _header_key(header: str) -> str:
    return " ".join(header.strip().lower().split())


def import_create(
    *,
    actor: Any,
    kind: str,
    source: str,
    file: IO[bytes] | Path,
    filename: str,
    mapping: dict[str, str | None] | None = None,
) -> ImportJob:
    """Keep the file, detect how to read it and guess its mapping; the import is ready to check and start."""
    _check_kind(kind)
    _require(actor, kind)
    if not (source or "").strip():
        raise ValidationFailed(field="source", reason="is required: the system the file comes from")
    folder = uuid.uuid4().hex
    name = Path(filename or "import").name[:200] or "import"
    target = imports_dir() / folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(file, Path):
        size = file.stat().st_size
        if size > MAX_BYTES:
            raise ValidationFailed(field="file", reason=_too_big(size))
        shutil.copyfile(file, target)
    else:
        with target.open("wb") as out:
            copied = 0
            while chunk := file.read(1 << 20):
                copied += len(chunk)
                if copied > MAX_BYTES:
                    out.close()
                    shutil.rmtree(target.parent, ignore_errors=True)
                    raise ValidationFailed(field="file", reason=_too_big(copied, at_least=True))
                out.write(chunk)
    try:
        table = reading.open_table(target, max_bytes=MAX_BYTES)
    except reading.FileProblem as problem:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise ValidationFailed(field="file", reason=str(problem)) from None
    try:
        the_source = source_ensure(actor=actor, name=source)
    except ValidationFailed:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise
    job = ImportJob(
        kind=kind,
        source=the_source,
        path=f"{folder}/{name}",
        filename=name,
        size=target.stat().st_size,
        file_format=table.format,
        encoding=table.encoding or "",
        delimiter=table.delimiter or "",
        headers=table.headers,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    job.mapping = _initial_mapping(the_source, kind, table.headers)
    if mapping is not None:
        job.mapping = _checked_mapping(kind, table.headers, mapping)
    job.save()
    audit_record(
        actor=actor, action="import.create", instance=job, changes={"file": [None, name], "kind": [None, kind]}
    )
    return job


def _too_big(size: int, *, at_least: bool = False) -> str:
    return (
        f"the file is {'over ' if at_least else ''}{size / 1024**3:.1f} GB; the largest import is "
        f"{MAX_BYTES / 1024**3:.1f} GB — split it into smaller files"
    )


def _initial_mapping(source: Source, kind: str, headers: list[str]) -> dict[str, str | None]:
    guessed = reading.guess_mapping(kind, headers)
    saved = ImportMapping.objects.filter(source=source, kind=kind).first()
    if saved is None:
        return guessed
    fields = {f.name for f in reading.KINDS[kind]}
    remembered = {key: value for key, value in saved.mapping.items() if value is None or value in fields}
    mapping = {}
    for header in headers:
        key = _header_key(header)
        mapping[header] = remembered[key] if key in remembered else guessed.get(header)
    # A field the saved mapping gives to a column wins over the guess for another column.
    used: dict[str, str] = {}
    for header in headers:
        field = mapping[header]
        if _header_key(header) in remembered and field:
            used[field] = header
    for header in headers:
        if _header_key(header) not in remembered and mapping[header] in used:
            mapping[header] = None
    return mapping


def _checked_mapping(kind: str, headers: list[str], mapping: dict[str, Any]) -> dict[str, str | None]:
    unknown = [header for header in mapping if header not in headers]
    if unknown:
        raise ValidationFailed(field="mapping", reason=f"no column called {unknown[0]!r} in the file")
    cleaned: dict[str, str | None] = {header: (mapping.get(header) or None) for header in headers}
    problems = reading.validate_mapping(kind, cleaned)
    if problems:
        raise ValidationFailed(field="mapping", reason="; ".join(str(p) for p in problems))
    return cleaned


@transaction.atomic
def import_mapping_set(*, actor: Any, job: ImportJob, mapping: dict[str, Any]) -> ImportJob:
    """Set how the columns are read (header → field, or null to leave a column out); saved for the source."""
    _require(actor, job.kind)
    if job.status != ImportStatus.READY:
        raise Conflict("the import has started: its mapping can no longer change", field="mapping")
    job.mapping = _checked_mapping(job.kind, job.headers, mapping)
    job.save(update_fields=["mapping"])
    ImportMapping.objects.update_or_create(
        source=job.source,
        kind=job.kind,
        defaults={"mapping": {_header_key(h): f for h, f in job.mapping.items()}},
    )
    audit_record(actor=actor, action="import.mapping", instance=job, changes={"mapping": [None, job.mapping]})
    return job


def _reader(job: ImportJob) -> reading.RowReader:
    try:
        table = reading.open_table(_file_path(job), max_bytes=MAX_BYTES)
    except reading.FileProblem as problem:
        raise Conflict(str(problem), field="file") from None
    return reading.RowReader(table, job.kind, job.mapping)


def import_preview(*, job: ImportJob, rows: int = 10) -> list[reading.RowResult]:
    """The first ``rows`` rows as the import will read them, each with its problems."""
    return _reader(job).preview(rows)


@transaction.atomic
def import_start(*, actor: Any, job: ImportJob) -> ImportJob:
    """Queue the import (the job ``imports.run``)."""
    _require(actor, job.kind)
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportStatus.READY:
        raise Conflict(f"the import is already {job.status}")
    problems = reading.validate_mapping(job.kind, job.mapping)
    if problems:
        raise ValidationFailed(field="mapping", reason="; ".join(str(p) for p in problems))
    job.status = ImportStatus.QUEUED
    job.job = enqueue("imports.run", {"import_id": job.pk})
    job.save(update_fields=["status", "job"])
    audit_record(actor=actor, action="import.start", instance=job, changes={"status": ["ready", "queued"]})
    return job


def _chunks(
    reader: reading.RowReader, kind: str, failures: list[RowFailure], counts: dict[str, int]
) -> Iterator[list[Row]]:
    """Rows in chunks; failed rows go to ``failures``; an order's lines are never split across chunks."""
    chunk: list[Row] = []
    headers = reader.table.headers
    for result in reader:
        counts["rows_read"] += 1
        if result.errors:
            failures += [RowFailure(result.line, column, reason) for column, reason in result.errors]
            continue
        cells = list(result.cells)
        raw = {header: cells[i] if i < len(cells) else "" for i, header in enumerate(headers)}
        row = Row(result.line, raw, result.values)
        if len(chunk) >= CHUNK_ROWS and not (
            kind == "orders" and chunk[-1].values["source_id"] == row.values["source_id"]
        ):
            yield chunk
            chunk = []
        chunk.append(row)
    if chunk:
        yield chunk


def import_run(*, import_id: int, progress: Callable[[ImportJob], None] | None = None) -> ImportJob:
    """Run a queued (or ready) import to the end; safe to run again (every row is an upsert)."""
    job = ImportJob.objects.select_related("source", "created_by").get(pk=import_id)
    if job.status == ImportStatus.SUCCEEDED:
        return job
    actor = job.created_by
    ImportRowError.objects.filter(job=job).delete()
    counts = {"rows_read": 0, "rows_created": 0, "rows_updated": 0, "rows_unchanged": 0, "rows_failed": 0}
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, started_at=timezone.now(), **counts)
    columns = {field: header for header, field in job.mapping.items() if field}
    failed_lines: set[int] = set()
    changed_contacts: set[int] = set()
    reader: reading.RowReader | None = None
    figures: dict[str, Any] = {}
    language = getattr(actor, "language", "") or settings.LANGUAGE_CODE
    try:
        # The reasons of failed rows are kept in the language of who started the import.
        with audit_channel(Channel.IMPORT), translation.override(language):
            reader = _reader(job)
            failures: list[RowFailure] = []
            for chunk in _chunks(reader, job.kind, failures, counts):
                result: ChunkResult = CHUNKS[job.kind](actor, job.source, chunk, columns)
                failures += result.failures
                changed_contacts |= result.changed_contacts
                counts["rows_created"] += result.created
                counts["rows_updated"] += result.updated
                counts["rows_unchanged"] += result.unchanged
                failed_lines |= _record_failures(job, failures)
                counts["rows_failed"] = len(failed_lines)
                failures.clear()  # in place: the chunk generator appends to this list
                ImportJob.objects.filter(pk=job.pk).update(**counts)
                if progress:
                    job.refresh_from_db()
                    progress(job)
            failed_lines |= _record_failures(job, failures)
            counts["rows_failed"] = len(failed_lines)
            ImportJob.objects.filter(pk=job.pk).update(**counts)
            if job.kind == "contacts":
                figures["identity"] = identity_resolve(actor=actor).as_json()
                bulk.golden_apply_many(actor=actor, contact_ids=changed_contacts)
                figures["consents"] = _consents(actor, job.source)
            _failed_csv_write(job, failed_lines)
    except reading.FileProblem as problem:
        # The file turned out unreadable part-way (an unclosed quote, a huge line): the rows before it
        # are in; the reason is the import's, and running it again would not help.
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.FAILED, finished_at=timezone.now(), error=str(problem)[:2000], **counts
        )
        job.refresh_from_db()
        return job
    except Exception as error:
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.FAILED, finished_at=timezone.now(), error=f"{type(error).__name__}: {error}"[:2000]
        )
        raise
    finally:
        if reader is not None:
            reader.table.close()
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.SUCCEEDED, finished_at=timezone.now(), figures=figures, **counts
    )
    job.refresh_from_db()
    return job


def _record_failures(job: ImportJob, failures: list[RowFailure]) -> set[int]:
    ImportRowError.objects.bulk_create(
        [
            ImportRowError(job=job, line=f.line, column=(f.column or "")[:200], reason=str(f.reason)[:500])
            for f in failures
        ],
        batch_size=2_000,
    )
    return {f.line for f in failures}


def _consents(actor: Any, source: Source) -> int:
    """The email consent the source's contact records state, appended to the ledger where it differs."""
    recorded = 0
    records = (
        SourceRecord.objects.filter(source=source, kind=RecordKind.CONTACT, values__has_key="email_consent")
        .exclude(contact=None)
        .values_list("contact_id", "values")
    )
    for contact_id, values in records.iterator(chunk_size=2_000):
        status = ConsentStatus.GRANTED if values.get("email_consent") else ConsentStatus.WITHDRAWN
        latest = (
            ConsentEvent.objects.filter(
                contact_id=contact_id, purpose=ConsentPurpose.MARKETING, channel=ConsentChannel.EMAIL
            )
            .order_by("-occurred_at", "-pk")
            .values_list("status", flat=True)
            .first()
        )
        if latest == status or (latest is None and status == ConsentStatus.WITHDRAWN):
            continue
        consent_record(
            actor=actor,
            contact=Contact(pk=contact_id),
            purpose=ConsentPurpose.MARKETING,
            channel=ConsentChannel.EMAIL,
            status=status,
            source=f"import from {source.name}",
        )
        recorded += 1
    return recorded


def _failed_csv_write(job: ImportJob, failed_lines: set[int]) -> None:
    """The failed rows with their original cells and an ``errors`` column, to fix and import again."""
    path = _failed_path(job)
    if not failed_lines:
        path.unlink(missing_ok=True)
        return
    reasons: dict[int, list[str]] = {}
    for line, column, reason in (
        ImportRowError.objects.filter(job=job).order_by("line", "pk").values_list("line", "column", "reason")
    ):
        reasons.setdefault(line, []).append(f"{column}: {reason}" if column else reason)
    with (
        reading.open_table(_file_path(job), max_bytes=MAX_BYTES) as table,
        path.open("w", newline="", encoding="utf-8-sig") as out,
    ):
        writer = csv.writer(out, delimiter=table.delimiter or ",")
        writer.writerow([*table.headers, "errors"])
        for line, cells in table.rows():
            if line in failed_lines:
                writer.writerow([*map(_inert, cells[: len(table.headers)]), "; ".join(reasons.get(line, []))])


def _inert(cell: str) -> str:
    """A cell a spreadsheet would run as a formula, quoted so that it stays text when the file is opened.

    "=…", "@…", tab or carriage return first; "+…" or "-…" only when letters or a bracket follow, so
    that a phone number ("+39 02 …") or a negative amount stays as it is.
    """
    first, rest = cell[:1], cell[1:]
    if first in ("=", "@", "\t", "\r") or (first in ("+", "-") and re.search(r"[A-Za-z(|!]", rest)):
        return "'" + cell
    return cell


def import_failed_csv(*, job: ImportJob) -> Path | None:
    """Where the failed rows of a finished import are, or None when every row went in."""
    path = _failed_path(job)
    return path if path.exists() else None


def import_delete_file(*, actor: Any, job: ImportJob) -> None:
    """Forget the uploaded file of a finished import (the records it brought stay)."""
    _require(actor, job.kind)
    if job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        raise Conflict("the import is running")
    shutil.rmtree(_file_path(job).parent, ignore_errors=True)
