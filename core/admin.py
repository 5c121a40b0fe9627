"""The audit trail in the console: read-only, filterable, searchable."""

from django.contrib import admin

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
