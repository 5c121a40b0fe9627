"""The audit trail in the console: read-only, filterable, searchable."""

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "action", "actor", "remote_addr", "target", "summary"]
    list_filter = ["action", ("at", admin.DateFieldListFilter), "actor"]
    search_fields = ["target", "summary", "actor__username", "remote_addr"]
    date_hierarchy = "at"
    list_select_related = ["actor"]
    readonly_fields = ["at", "action", "actor", "remote_addr", "target", "summary", "details"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False
