"""Route filters: the CloudEvents Subscriptions API's filter dialects, checked and matched.

A route's filter uses the CloudEvents Subscriptions API's filter dialects (one JSON object):

    {"exact": {"type": "OrderPlaced"}}             every attribute given equals
    {"prefix": {"subject": "orders/"}}             every attribute given starts with
    {"suffix": {"source": ".shop"}}                every attribute given ends with
    {"all": [filter, ...]}  {"any": [filter, ...]}  {"not": filter}
    {}                                             matches every event

Attributes: `type`, `source`, `subject`, and `data.<path>` for a value in the event's data
(`data.order.country`, `data.lines.0.sku`; compared as text: `true`, `12.5`). A missing attribute
matches nothing but `not`.
"""

from collections.abc import Mapping
from typing import Any

DIALECTS = ("exact", "prefix", "suffix", "all", "any", "not")
ATTRIBUTES = ("type", "source", "subject")
#: The deepest nesting of all/any/not a filter may have.
MAX_FILTER_DEPTH = 8


def filter_problems(value: Any, *, depth: int = 0, where: str = "filter") -> list[str]:
    """What is wrong with a filter, each a sentence ("" problems: it is valid)."""
    if depth > MAX_FILTER_DEPTH:
        return [f"{where}: nested more than {MAX_FILTER_DEPTH} levels."]
    if not isinstance(value, dict):
        return [f'{where}: a filter is a JSON object such as {{"exact": {{"type": "OrderPlaced"}}}}.']
    if not value:
        return []
    if len(value) != 1 or next(iter(value)) not in DIALECTS:
        return [f"{where}: use exactly one of {', '.join(DIALECTS)} (found {', '.join(map(str, value)) or 'none'})."]
    dialect, argument = next(iter(value.items()))
    if dialect in ("exact", "prefix", "suffix"):
        if not isinstance(argument, dict) or not argument:
            return [f"{where}.{dialect}: an object of attribute: text."]
        problems = []
        for name, text in argument.items():
            if name not in ATTRIBUTES and not (name.startswith("data.") and len(name) > 5):
                problems.append(f"{where}.{dialect}: unknown attribute {name!r} (type, source, subject, data.<path>).")
            if not isinstance(text, str):
                problems.append(f"{where}.{dialect}.{name}: compare with text, e.g. '12.5'.")
        return problems
    if dialect == "not":
        return filter_problems(argument, depth=depth + 1, where=f"{where}.not")
    if not isinstance(argument, list) or not argument:
        return [f"{where}.{dialect}: a non-empty list of filters."]
    return [
        problem
        for n, item in enumerate(argument)
        for problem in filter_problems(item, depth=depth + 1, where=f"{where}.{dialect}[{n}]")
    ]


def attribute(event: Mapping[str, Any], name: str) -> str | None:
    """An attribute's text (None when the event has none)."""
    if not name.startswith("data."):
        value = event.get(name)
        return value if isinstance(value, str) and value else None
    value: Any = event.get("data")
    for step in name[5:].split("."):
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None or isinstance(value, dict | list) else str(value)


def matches(rule: dict[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether an event (type, source, subject, data) passes a valid filter."""
    if not rule:
        return True
    dialect, argument = next(iter(rule.items()))
    if dialect == "all":
        return all(matches(item, event) for item in argument)
    if dialect == "any":
        return any(matches(item, event) for item in argument)
    if dialect == "not":
        return not matches(argument, event)
    test = {"exact": str.__eq__, "prefix": str.startswith, "suffix": str.endswith}[dialect]
    return all((found := attribute(event, name)) is not None and test(found, text) for name, text in argument.items())
