"""Error pages inside the console: what was refused and why, never a bare "403 Forbidden"."""

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import Resolver404, resolve

from core.permissions import admin_page_permission, refusal_for

GENERIC_REASON = "Your role does not allow this page."


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 403 page: the reason (the permission needed, when the view named it) and the user's roles."""
    user = request.user
    context = {
        "title": "Not allowed",
        "reason": str(exception or "") or _stock_page_reason(request),
        "roles": sorted(user.groups.values_list("name", flat=True)) if user.is_authenticated else [],
    }
    if request.path.startswith(f"/{settings.HELIOS_ADMIN_URL}"):
        context |= admin.site.each_context(request)
    response = TemplateResponse(request, "403.html", context, status=403)
    return response.render()


def _stock_page_reason(request: HttpRequest) -> str:
    """A stock admin page refuses without words: name the permission it needs and the roles."""
    try:
        url_name = resolve(request.path_info).url_name or ""
    except Resolver404:
        return GENERIC_REASON
    needed = admin_page_permission(url_name)
    return refusal_for(needed[0], to=needed[1]) if needed else GENERIC_REASON
