"""REST endpoints of imports: /api/v1/imports — upload, check the mapping and preview, start, follow,
read the failed rows (JSON, or CSV to fix and import again)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from django.http import FileResponse
from ninja import Field, File, Form, Query, Router, Schema, Status, UploadedFile

from cuore.core.api import PathId, page_of, page_response
from cuore.core.errors import NotFound, ValidationFailed
from cuore.core.pagination import paginate
from cuore.imports import reading, selectors, services
from cuore.imports.models import ImportJob, ImportKind

router = Router(tags=["imports"])
Limit = Annotated[int, Field(ge=1, le=200)]
KindName = Literal[tuple(ImportKind.values)]  # type: ignore[valid-type]


class ImportOut(Schema):
    id: int
    kind: str
    source: str
    filename: str
    size: int
    file_format: str
    encoding: str
    delimiter: str
    headers: list[str]
    mapping: dict[str, str | None]
    status: str
    rows_read: int
    rows_created: int
    rows_updated: int
    rows_unchanged: int
    rows_failed: int
    figures: dict[str, Any]
    error: str
    job_id: int | None
    created_by_id: int | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @staticmethod
    def resolve_source(obj: ImportJob) -> str:
        return obj.source.name


class FieldOut(Schema):
    name: str
    label: str
    kind: str
    required: bool


class MappingIn(Schema):
    mapping: dict[str, str | None] = Field(description='{"column header": "field name" or null to leave it out}')


class CellProblem(Schema):
    column: str
    reason: str


class PreviewRow(Schema):
    line: int
    values: dict[str, Any]
    errors: list[CellProblem]


class RowErrorOut(Schema):
    id: int
    line: int
    column: str
    reason: str


class ImportFilters(Schema):
    cursor: str | None = None
    limit: Limit = 50


@router.get("/imports/fields", response=list[FieldOut], summary="The fields a kind of import can fill")
def list_fields(request, kind: KindName):
    selectors.import_list(actor=request.auth)  # the read check
    return [
        {"name": f.name, "label": str(f.label), "kind": f.kind, "required": f.required} for f in reading.KINDS[kind]
    ]


@router.post("/imports", response={201: ImportOut}, summary="Upload a CSV or XLSX file to import")
def create_import(
    request,
    file: File[UploadedFile],
    kind: Form[KindName],
    source: Form[str],
    mapping: Form[str | None] = None,
):
    """The file's format, encoding and delimiter are detected and its mapping guessed (the one saved
    for the source first). Check it with the preview, correct it with PUT …/mapping, then start."""
    given = None
    if mapping:
        try:
            given = json.loads(mapping)
        except ValueError:
            raise ValidationFailed(field="mapping", reason='must be JSON: {"column header": "field" or null}') from None
        if not isinstance(given, dict):
            raise ValidationFailed(field="mapping", reason='must be a JSON object {"column header": "field" or null}')
    job = services.import_create(
        actor=request.auth, kind=kind, source=source, file=file, filename=file.name or "import", mapping=given
    )
    return Status(201, job)


@router.get("/imports", response=page_of(ImportOut), summary="Imports, newest first")
def list_imports(request, filters: Query[ImportFilters]):
    page = paginate(
        selectors.import_list(actor=request.auth),
        ordering_key="-id",
        ordering=("-id",),
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return page_response(page)


@router.get("/imports/{import_id}", response=ImportOut)
def get_import(request, import_id: PathId):
    return selectors.import_get_for_actor(actor=request.auth, import_id=import_id)


@router.put("/imports/{import_id}/mapping", response=ImportOut, summary="Set how the columns are read")
def set_mapping(request, import_id: PathId, payload: MappingIn):
    job = selectors.import_get_for_actor(actor=request.auth, import_id=import_id)
    return services.import_mapping_set(actor=request.auth, job=job, mapping=payload.mapping)


@router.get("/imports/{import_id}/preview", response=list[PreviewRow], summary="The first rows as they will be read")
def preview(request, import_id: PathId, rows: Annotated[int, Field(ge=1, le=100)] = 10):
    job = selectors.import_get_for_actor(actor=request.auth, import_id=import_id)
    return [
        {
            "line": row.line,
            "values": {k: _plain(v) for k, v in row.values.items()},
            "errors": [{"column": column, "reason": str(reason)} for column, reason in row.errors],
        }
        for row in services.import_preview(job=job, rows=rows)
    ]


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


@router.post("/imports/{import_id}/start", response={202: ImportOut}, summary="Start the import in the background")
def start(request, import_id: PathId):
    job = selectors.import_get_for_actor(actor=request.auth, import_id=import_id)
    return Status(202, services.import_start(actor=request.auth, job=job))


@router.get(
    "/imports/{import_id}/errors", response=page_of(RowErrorOut), summary="The failed rows: line, column, reason"
)
def row_errors(request, import_id: PathId, filters: Query[ImportFilters]):
    job = selectors.import_get_for_actor(actor=request.auth, import_id=import_id)
    page = paginate(
        job.row_errors.all(),
        ordering_key="line,id",
        ordering=("line", "id"),
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return page_response(page)


@router.get(
    "/imports/{import_id}/failed.csv",
    summary="The failed rows as a CSV (original cells + errors) to fix and import again",
    response={200: None},
)
def failed_csv(request, import_id: PathId):
    job = selectors.import_get_for_actor(actor=request.auth, import_id=import_id)
    path = services.import_failed_csv(job=job)
    if path is None:
        raise NotFound("failed rows")
    name = job.filename.rsplit(".", 1)[0] + "-failed.csv"
    return FileResponse(path.open("rb"), as_attachment=True, filename=name, content_type="text/csv; charset=utf-8")
