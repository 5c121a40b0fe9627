"""The kind registry: every kind declared whole in its own module, and named nowhere else."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

from providers.kinds import KINDS, SPECS, ProviderKind, ReceiverAuth
from providers.models import ProviderConfig
from providers.production import TARGET_FIELDS
from providers.startup import bootstrap_demo_providers
from tests.conftest import PROJECT_ROOT

APP_DIRS = ("core", "events", "providers", "gateway", "helios_site", "templates")


def test_kind_names_appear_only_in_the_kind_modules_and_migrations():
    names = re.compile("|".join(re.escape(n) for spec in SPECS for n in (spec.name, spec.name.upper())))
    kinds_dir = PROJECT_ROOT / "providers" / "kinds"
    offenders = []
    for directory in APP_DIRS:
        for path in (PROJECT_ROOT / directory).rglob("*"):
            if path.suffix not in (".py", ".html", ".js") or "migrations" in path.parts:
                continue
            if kinds_dir in path.parents:
                continue
            offenders += [f"{path.relative_to(PROJECT_ROOT)}:{n}" for n, line in _lines(path) if names.search(line)]
    assert offenders == []


def _lines(path: Path) -> list[tuple[int, str]]:
    return list(enumerate(path.read_text(encoding="utf-8").splitlines(), start=1))


def test_each_spec_is_whole_and_the_specs_do_not_overlap():
    model_fields = {field.name for field in ProviderConfig._meta.get_fields()}
    seen: set[str] = set()
    for spec in SPECS:
        assert set(spec.option_fields) <= model_fields
        assert not seen & set(spec.option_fields), f"{spec.name} reuses another kind's option field"
        seen |= set(spec.option_fields)
        assert set(spec.target_fields) <= set(spec.option_fields)
        assert set(spec.target_fields) <= set(TARGET_FIELDS)
        if spec.receiver is not None:
            assert spec.receiver.auths and set(spec.receiver.auths) <= set(ReceiverAuth.values)
            assert reverse(spec.receiver.url_name, args=[1]) == f"/receive/{spec.receiver.path}/1/"
    receivers = [spec.receiver for spec in SPECS if spec.receiver is not None]
    assert len({spec.cli_alias for spec in SPECS}) == len(SPECS)
    assert len({receiver.path for receiver in receivers}) == len(receivers)
    assert ProviderKind.choices == [(spec.name, spec.label) for spec in SPECS]


@pytest.mark.django_db
def test_first_run_creates_one_valid_demo_config_per_cloud_and_every_kind_has_a_valid_one():
    created = bootstrap_demo_providers()
    assert sorted(config.kind for config in created) == sorted(k for k, spec in KINDS.items() if spec.demo_on_first_run)
    for config in created:
        assert config.mode == "demo" and config.options()
        assert KINDS[config.kind].describe_target(config.options())
    ProviderConfig.objects.all().delete()
    for kind, spec in KINDS.items():
        ProviderConfig(kind=kind, mode="demo", **spec.demo_config).full_clean()


@pytest.mark.django_db
def test_a_config_page_shows_its_own_kinds_options_only(admin_client, make_provider):
    for spec in SPECS:
        config = make_provider(f"page-{spec.cli_alias}", spec.name)
        page = admin_client.get(reverse("admin:providers_providerconfig_change", args=[config.pk]))
        assert page.status_code == 200
        html = page.content.decode()
        assert f'name="{spec.option_fields[0]}"' in html
        others = [name for other in SPECS if other is not spec for name in other.option_fields]
        assert not [name for name in others if f'name="{name}"' in html]
        assert 'name="kind"' not in html  # a saved config keeps its kind
    add_page = admin_client.get(reverse("admin:providers_providerconfig_add")).content.decode()
    assert all(f'name="{name}"' in add_page for spec in SPECS for name in spec.option_fields)


def test_each_kind_declares_its_own_pull_options_and_the_receiver_has_them():
    from providers.models import ReceiverSettings

    fields = {field.name for field in ReceiverSettings._meta.get_fields()}
    declared: set[str] = set()
    for spec in SPECS:
        if spec.receiver is None:
            continue
        own = set(spec.receiver.pull_option_keys)
        assert not declared & own, f"{spec.name} reuses another kind's pull option"
        declared |= own
        assert set(spec.receiver.pull_fields) <= fields
        if spec.receiver.pull_options_model is not None:
            model_fields = {f.name for f in spec.receiver.pull_options_model._meta.get_fields()}
            assert own == model_fields
    assert declared <= fields
