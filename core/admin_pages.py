"""What every custom console page needs from its model admin."""

from typing import Any

from django.contrib.admin import ModelAdmin
from django.http import HttpRequest


def page_context(model_admin: ModelAdmin, request: HttpRequest, title: str, **values: Any) -> dict[str, Any]:
    """The admin site's context (header, sidebar, permissions), the model's options for the
    breadcrumbs, the page title, and the page's own values."""
    return {**model_admin.admin_site.each_context(request), "opts": model_admin.model._meta, "title": title, **values}
