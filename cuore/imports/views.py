"""Web pages of imports: the list, the upload, the column mapping with its preview, the progress and summary.

An import is read through ``cuore.imports.selectors`` (whoever may read imports sees them all) and
changed only through ``cuore.imports.services``; the rows are read and written by the background job
``imports.run`` (``cuore worker``, or ``cuore serve --worker``), never in the request. While an import
is queued or running its page asks for its progress every second (HTMX); the answer stops asking once
the import is done.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cuore.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from cuore.core.htmx import is_htmx
from cuore.core.pagination import paginate
from cuore.core.visibility import can_write, require_write
from cuore.identity.selectors import source_list
from cuore.imports import reading, selectors, services
from cuore.imports.forms import ImportUploadForm, MappingForm
from cuore.imports.handlers import RESOURCES
from cuore.imports.models import ImportJob, ImportKind, ImportStatus

PAGE_SIZE = 50
FAILED_PAGE_SIZE = 50
PREVIEW_ROWS = 10
MAX_ID = 2**63 - 1
# Queued for this long without starting: probably no worker is running.
STALE_AFTER = dt.timedelta(minutes=2)
RUNNING = (ImportStatus.QUEUED, ImportStatus.RUNNING)
FINISHED = (ImportStatus.SUCCEEDED, ImportStatus.FAILED)


# ---- helpers -------------------------------------------------------------------------------------


def _bounded(record_id: int) -> int:
    """An id from the path, or 404 when no database could hold it."""
    if not 0 < record_id <= MAX_ID:
        raise Http404
    return record_id


def _job(request: HttpRequest, import_id: int) -> ImportJob:
    try:
        return selectors.import_get_for_actor(actor=request.user, import_id=_bounded(import_id))
    except NotFound:
        raise Http404 from None


def _refused(request: HttpRequest, error: Exception, status: int) -> HttpResponse:
    """Answer a write the service refused (403 or 409): a page with the reason, or the reason for HTMX."""
    reason = getattr(error, "reason", None) or str(error) or _("This action is not allowed.")
    if is_htmx(request):
        response = HttpResponse(reason, status=status, content_type="text/plain; charset=utf-8")
        response["X-Cuore-Reason"] = quote(reason)
        return response
    return render(request, "imports/refused.html", {"reason": reason, "status": status}, status=status)


def _kinds_for(actor: Any) -> list[str]:
    """The kinds of import the actor may run: those whose records their role may write."""
    return [kind for kind in ImportKind.values if can_write(actor, RESOURCES[kind])]


def _may_change(actor: Any, job: ImportJob) -> bool:
    """Whether the actor may change and start this import: imports, and the kind of record it writes."""
    return can_write(actor, "imports") and can_write(actor, RESOURCES[job.kind])


def _not_this_kind() -> Forbidden:
    return Forbidden(_("Your role may not import this kind of record."))


DELIMITERS = {
    ",": gettext_lazy("comma"),
    ";": gettext_lazy("semicolon"),
    "\t": gettext_lazy("tab"),
    "|": gettext_lazy("vertical bar"),
}


def _delimiter_label(delimiter: str) -> str:
    return str(DELIMITERS.get(delimiter, delimiter)) if delimiter else ""


# ---- the list ------------------------------------------------------------------------------------


@login_required
@require_GET
def import_list(request: HttpRequest) -> HttpResponse:
    """Every import, newest first: file, kind, source, status, counts, who and when."""
    actor = request.user
    try:
        jobs = selectors.import_list(actor=actor)
        page = paginate(jobs, ordering_key="-id", ordering=("-id",), cursor=request.GET.get("cursor"), limit=PAGE_SIZE)
    except (NotFound, ValidationFailed):  # no imports for this role, or a cursor that is not ours
        raise Http404 from None
    return render(
        request,
        "imports/list.html",
        {
            "jobs": page.items,
            "next_cursor": page.next_cursor,
            "first_page": bool(request.GET.get("cursor")),
            "can_import": can_write(actor, "imports") and bool(_kinds_for(actor)),
        },
    )


# ---- the upload ----------------------------------------------------------------------------------


def _source_names(actor: Any) -> list[str]:
    try:
        return list(source_list(actor=actor).values_list("name", flat=True)[:200])
    except NotFound:
        return []


@login_required
@require_http_methods(["GET", "POST"])
def import_new(request: HttpRequest) -> HttpResponse:
    """Upload a file: what it holds and the source it comes from; then its mapping is checked."""
    actor = request.user
    try:
        require_write(actor, "imports")
    except NotFound:
        raise Http404 from None
    except Forbidden:
        return _refused(request, Forbidden(_("Your role may not start imports.")), 403)
    kinds = _kinds_for(actor)
    if request.method == "POST":
        form = ImportUploadForm(request.POST, request.FILES, kinds=kinds)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = services.import_create(
                    actor=actor,
                    kind=form.cleaned_data["kind"],
                    source=form.cleaned_data["source"],
                    file=upload,
                    filename=upload.name or "import",
                )
            except ValidationFailed as error:
                form.add_service_errors(error)
            except Forbidden as error:
                return _refused(request, error, 403)
            else:
                return HttpResponseRedirect(reverse("imports:detail", args=[job.pk]))
    else:
        form = ImportUploadForm(kinds=kinds, initial={"kind": request.GET.get("kind") or ImportKind.CONTACTS})
    return render(request, "imports/new.html", {"form": form, "sources": _source_names(actor)})


# ---- the mapping and its preview -------------------------------------------------------------------


@dataclass
class PreviewCell:
    text: str
    problem: str = ""
    empty: bool = False


@dataclass
class PreviewRow:
    line: int
    cells: list[PreviewCell]
    problems: list[str] = field(default_factory=list)  # about the row as a whole

    @property
    def has_problems(self) -> bool:
        return bool(self.problems) or any(cell.problem for cell in self.cells)


def _shown(value: Any, target: reading.Field) -> str:
    """A value as read, the way the user writes it (dates and numbers in their language)."""
    if value is None:
        return ""
    if target.kind == "choice" and target.choices:
        return str(target.choices.get(value, value))
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, dt.datetime):
        return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    if isinstance(value, dt.date):
        return formats.date_format(value, "SHORT_DATE_FORMAT")
    if isinstance(value, Decimal | int | float):
        return formats.number_format(value, use_l10n=True)
    return str(value)


@dataclass
class Preview:
    columns: list[tuple[str, reading.Field]]  # the mapped columns (header, field), in the file's order
    rows: list[PreviewRow]
    samples: dict[str, list[str]]  # header → its first few non-empty cells, for every column
    error: str = ""  # why the rows cannot be read


SAMPLES = 3


def _preview(job: ImportJob) -> Preview:
    """The first rows as they will be read with the saved mapping, or why they cannot be."""
    targets = reading.fields_of(job.kind)
    columns = [(header, targets[name]) for header, name in job.mapping.items() if name in targets]
    order = {header: position for position, header in enumerate(job.headers)}
    columns.sort(key=lambda column: order.get(column[0], 0))
    try:
        results = services.import_preview(job=job, rows=PREVIEW_ROWS)
    except Conflict as error:
        return Preview(columns, [], {}, error.reason)
    except ValueError as error:  # a saved mapping the file no longer fits
        return Preview(columns, [], {}, str(error))
    samples: dict[str, list[str]] = {header: [] for header in job.headers}
    for result in results:
        for header, cell in zip(job.headers, result.cells, strict=False):
            if cell.strip() and len(samples[header]) < SAMPLES:
                samples[header].append(cell.strip())
    rows = []
    for result in results:
        problems: dict[str, list[str]] = {}
        for header, reason in result.errors:
            problems.setdefault(header, []).append(str(reason))
        cells_in_file = result.cells
        cells = []
        for header, target in columns:
            if header in problems:
                position = order.get(header, -1)
                raw = cells_in_file[position] if 0 <= position < len(cells_in_file) else ""
                cells.append(PreviewCell(raw, "; ".join(problems[header])))
            else:
                text = _shown(result.values.get(target.name), target)
                cells.append(PreviewCell(text, empty=not text))
        row_problems = problems.get("", []) + [
            f"{header}: {'; '.join(reasons)}"
            for header, reasons in problems.items()
            if header and header not in {h for h, _t in columns}
        ]
        rows.append(PreviewRow(result.line, cells, row_problems))
    return Preview(columns, rows, samples)


def _mapping_context(
    request: HttpRequest, job: ImportJob, form: MappingForm | None = None, start_errors: list[str] | None = None
) -> dict[str, Any]:
    if form is None:
        form = MappingForm(kind=job.kind, headers=job.headers, mapping=job.mapping)
    preview = _preview(job)
    mapped = {name for name in job.mapping.values() if name}
    required = [(target.label, target.name in mapped) for target in reading.KINDS[job.kind] if target.required]
    problems = reading.validate_mapping(job.kind, job.mapping)
    return {
        "job": job,
        "form": form,
        "columns": [(header, bound, preview.samples.get(header, [])) for header, bound in form.columns()],
        "preview": preview,
        "preview_problems": sum(1 for row in preview.rows if row.has_problems),
        "required": required,
        "mapping_problems": problems,
        "start_errors": start_errors or [],
        "delimiter": _delimiter_label(job.delimiter),
        "can_write": _may_change(request.user, job),
        "unsaved": form.is_bound and bool(form.errors),
    }


def _mapping_page(request: HttpRequest, job: ImportJob, *, status: int = 200, **kwargs: Any) -> HttpResponse:
    template = "imports/_mapping.html" if is_htmx(request) else "imports/mapping.html"
    return render(request, template, _mapping_context(request, job, **kwargs), status=status)


@login_required
@require_POST
def import_mapping(request: HttpRequest, import_id: int) -> HttpResponse:
    """Save the column mapping (saved for the source's next files too) and show the preview again."""
    job = _job(request, import_id)
    if not can_write(request.user, "imports"):
        return _refused(request, Forbidden(_("Your role may not change imports.")), 403)
    if not _may_change(request.user, job):
        return _refused(request, _not_this_kind(), 403)
    form = MappingForm(request.POST, kind=job.kind, headers=job.headers, mapping=job.mapping)
    if form.is_valid():
        try:
            job = services.import_mapping_set(actor=request.user, job=job, mapping=form.mapping())
        except ValidationFailed as error:
            form.add_service_errors(error)
        except Forbidden as error:
            return _refused(request, error, 403)
        except NotFound:  # the kind's records are out of the role's sight
            return _refused(request, _not_this_kind(), 403)
        except Conflict as error:
            return _refused(request, error, 409)
    if form.errors:
        return _mapping_page(request, job, form=form, status=422 if is_htmx(request) else 200)
    if is_htmx(request):
        return _mapping_page(request, job)
    return HttpResponseRedirect(reverse("imports:detail", args=[job.pk]))


@login_required
@require_POST
def import_start(request: HttpRequest, import_id: int) -> HttpResponse:
    """Queue the import: a background worker reads the file; the import page follows it."""
    job = _job(request, import_id)
    try:
        services.import_start(actor=request.user, job=job)
    except ValidationFailed as error:
        reasons = list(error.errors.values())
        return _mapping_page(request, job, start_errors=reasons, status=422 if is_htmx(request) else 200)
    except Forbidden as error:
        return _refused(request, error, 403)
    except NotFound:  # the kind's records are out of the role's sight
        return _refused(request, _not_this_kind(), 403)
    except Conflict as error:
        return _refused(request, error, 409)
    target = reverse("imports:detail", args=[job.pk])
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return HttpResponseRedirect(target)


# ---- the import page ----------------------------------------------------------------------------


def _failed_page(request: HttpRequest, job: ImportJob) -> Page:
    rows = job.row_errors.order_by("line", "id")
    return Paginator(rows, FAILED_PAGE_SIZE).get_page(request.GET.get("page"))


def _progress_context(request: HttpRequest, job: ImportJob) -> dict[str, Any]:
    running = job.status in RUNNING
    finished = job.status in FINISHED
    figures = job.figures or {}
    return {
        "job": job,
        "running": running,
        "finished": finished,
        "stale": job.status == ImportStatus.QUEUED and job.created_at < timezone.now() - STALE_AFTER,
        "identity": figures.get("identity"),
        "consents": figures.get("consents"),
        "failed_page": _failed_page(request, job) if finished and job.rows_failed else None,
        "failed_csv": finished and services.import_failed_csv(job=job) is not None,
    }


@login_required
@require_GET
def import_detail(request: HttpRequest, import_id: int) -> HttpResponse:
    """A ready import shows its mapping and preview; a started one its progress, then its summary."""
    job = _job(request, import_id)
    if job.status == ImportStatus.READY:
        return _mapping_page(request, job)
    return render(request, "imports/detail.html", _progress_context(request, job))


@login_required
@require_GET
def import_progress(request: HttpRequest, import_id: int) -> HttpResponse:
    """The progress block, which HTMX asks for every second while the import is queued or running."""
    job = _job(request, import_id)
    if not is_htmx(request):
        return HttpResponseRedirect(reverse("imports:detail", args=[job.pk]))
    if job.status == ImportStatus.READY:  # not started (yet): back to the mapping
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("imports:detail", args=[job.pk])
        return response
    return render(request, "imports/_progress.html", _progress_context(request, job))


@login_required
@require_GET
def import_failed_rows(request: HttpRequest, import_id: int) -> HttpResponse:
    """A page of the failed rows (line, column, reason), for the table's pager."""
    job = _job(request, import_id)
    if not is_htmx(request):
        page = request.GET.get("page", "")
        suffix = f"?page={quote(page)}" if page else ""
        return HttpResponseRedirect(reverse("imports:detail", args=[job.pk]) + suffix)
    context = {
        "job": job,
        "failed_page": _failed_page(request, job),
        "failed_csv": services.import_failed_csv(job=job) is not None,
    }
    return render(request, "imports/_failed.html", context)


@login_required
@require_GET
def import_failed_csv(request: HttpRequest, import_id: int) -> FileResponse:
    """The failed rows as a CSV — the file's own cells plus an "errors" column — to fix and import again."""
    job = _job(request, import_id)
    path = services.import_failed_csv(job=job)
    if path is None:
        raise Http404
    name = job.filename.rsplit(".", 1)[0] + "-failed.csv"
    return FileResponse(path.open("rb"), as_attachment=True, filename=name, content_type="text/csv; charset=utf-8")
