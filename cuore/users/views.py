"""Signing in and out, changing one's password and language."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse, reverse_lazy
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cuore.core import lists
from cuore.core.errors import NotFound, ValidationFailed
from cuore.users import services


class LoginView(auth_views.LoginView):
    template_name = "users/login.html"
    redirect_authenticated_user = True


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "users/password_change.html"
    success_url = reverse_lazy("home")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Your password has been changed."))
        return response


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


@login_required
@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Save the signed-in user's language and show the page they came from in it."""
    try:
        services.user_set_language(user=request.user, language=request.POST.get("language", ""))
    except ValidationFailed as exc:
        messages.error(request, exc.errors.get("language", _("Unknown language.")))
        return HttpResponseRedirect(_safe_next(request, reverse("home")))
    translation.activate(request.user.language)
    response = HttpResponseRedirect(_safe_next(request, reverse("home")))
    response.set_cookie("django_language", request.user.language, samesite="Lax", httponly=True)
    return response


@login_required
@require_POST
def saved_view_save(request: HttpRequest) -> HttpResponse:
    """Save the list's current filters, sorting and columns under a name."""
    list_name = request.POST.get("list_name", "")[:32]
    fallback = reverse("home")
    try:
        lists.saved_view_save(
            user=request.user,
            list_name=list_name,
            name=request.POST.get("name", ""),
            query=request.POST.get("query", ""),
        )
    except ValidationFailed as exc:
        messages.error(request, " ".join(f"{field}: {reason}" for field, reason in exc.errors.items()))
        return HttpResponseRedirect(_safe_next(request, fallback))
    messages.success(request, _("View saved."))
    query = request.POST.get("query", "")
    target = _safe_next(request, fallback)
    return HttpResponseRedirect(f"{target}?{query}" if query and "?" not in target else target)


@login_required
@require_POST
def saved_view_delete(request: HttpRequest, view_id: int) -> HttpResponse:
    try:
        lists.saved_view_delete(user=request.user, view_id=view_id)
    except NotFound:
        raise Http404 from None
    messages.success(request, _("View deleted."))
    return HttpResponseRedirect(_safe_next(request, reverse("home")))
