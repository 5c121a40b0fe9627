"""Help texts are shown as HTML by the admin: a placeholder written as <name> would vanish as an
unknown tag (the receiver's "https://<namespace>.<region>…" lost its parts). Placeholders are
written {name}; only deliberate markup is allowed."""

import re

from django.apps import apps

HELIOS_APPS = {"core", "events", "gateway", "providers"}
UNINTENDED_TAG = re.compile(r"<(?!/?(a|code|br|strong|em)\b)[a-zA-Z]")


def test_no_help_text_holds_a_tag_by_accident():
    found = [
        f"{model._meta.label}.{field.name}: {field.help_text}"
        for model in apps.get_models()
        if model._meta.app_label in HELIOS_APPS
        for field in model._meta.get_fields()
        if UNINTENDED_TAG.search(str(getattr(field, "help_text", "") or ""))
    ]
    assert found == []
