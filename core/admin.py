"""The audit trail in the console: read-only, filterable, searchable; and the Users page
(core/user_admin.py)."""

from django.contrib import admin

from . import user_admin  # noqa: F401 (registers the Users page with the role by name)
from .models import AuditEntry
from .readonly import ReadOnlyAdminMixin


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "action", "actor", "remote_addr", "target", "summary"]
    list_filter = ["action", ("at", admin.DateFieldListFilter), "actor"]
    search_fields = ["target", "summary", "actor__username", "remote_addr"]
    date_hierarchy = "at"
    list_select_related = ["actor"]
    readonly_fields = ["at", "action", "actor", "remote_addr", "target", "summary", "details"]
