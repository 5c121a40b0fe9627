"""Package docstrings that index their modules name every module (an index that misses one is stale)."""

import importlib
import pkgutil
import re

import pytest

INDEXED_PACKAGES = ["core", "events.services"]
#: Django's own module of an app needs no line in the index.
UNINDEXED = {"apps"}


@pytest.mark.parametrize("name", INDEXED_PACKAGES)
def test_index_names_every_module(name: str) -> None:
    package = importlib.import_module(name)
    modules = {info.name for info in pkgutil.iter_modules(package.__path__) if not info.ispkg} - UNINDEXED
    named = set(re.findall(r"[a-z_]+", package.__doc__ or ""))
    assert sorted(modules - named) == [], f"{name}'s docstring does not name every module"
