"""History and audit records are never edited by hand in the console."""

from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """No add, change or delete from the admin: view only (for ModelAdmins and inlines)."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
