"""The Users page offers the console role by name: choosing one gives the user that role only,
with staff status, audited (as `manage.py roles assign` does)."""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.http import HttpRequest

from .audit import Actor
from .roles import ROLES, assign_role

NO_ROLE = ""


class RoleChangeForm(UserChangeForm):
    """The stock user form, plus the role by name."""

    role = forms.ChoiceField(
        label="Console role",
        choices=[(NO_ROLE, "— keep the groups below —"), *[(name, name) for name in ROLES]],
        required=False,
        help_text="Viewer ⊂ Publisher ⊂ Operator ⊂ Admin (see the README's roles). Choosing one gives "
        "this user that role only, and staff status so they can log in.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            held = [name for name in ROLES if self.instance.groups.filter(name=name).exists()]
            self.fields["role"].initial = held[-1] if len(held) == 1 else NO_ROLE


class UserWithRoleAdmin(UserAdmin):
    form = RoleChangeForm
    fieldsets = (
        UserAdmin.fieldsets[0],
        ("Console role", {"fields": ("role",)}),
        *UserAdmin.fieldsets[1:],
    )

    def save_related(self, request: HttpRequest, form: RoleChangeForm, formsets: Any, change: bool) -> None:
        """After the groups the form sets: the chosen role, if it changed."""
        super().save_related(request, form, formsets, change)
        role = form.cleaned_data.get("role")
        if role and "role" in form.changed_data:
            assign_role(form.instance, role, actor=Actor.from_request(request))


User = get_user_model()
admin.site.unregister(User)
admin.site.register(User, UserWithRoleAdmin)
