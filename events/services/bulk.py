"""Bulk send: JSON Lines or CSV files, or N events from a template, checked line by line and
published all or nothing.

JSON Lines: one JSON object per line. A line with a `data` member is an envelope (`type`,
`source`, `subject`, `data`); any other object is the event data itself. CSV: a header row;
columns `type`, `source` and `subject` set those attributes, a `data` column holds a JSON
object, and without one every other column becomes a data field (cells that are JSON numbers,
`true`, `false` or `null` become those values, others stay strings; `NaN`, `Infinity` and
numbers too large for JSON are refused). Whatever a line leaves out comes from the form (event
type, source) or the chosen template (type, source, data defaults, schema; never its example
subject: a line without a subject gets none). Every line passes the input gate
(events.services.validation): problems name the line and the JSON path (`$` is the line's object).
"""

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.db import transaction

from core import strictjson, tracing
from core.audit import Actor
from providers.models import ProviderConfig
from providers.production import NO_GRANT, ProductionGrant

from ..models import BulkSource, BulkUpload, EventTemplate
from .publishing import EventSpec, PlannedGroup, PublishRequest, create_planned, plan
from .validation import PublishRejected, Refusal, json_type_name

ATTRIBUTE_COLUMNS = ("type", "source", "subject")
MISSING_ATTRIBUTES_HINT = (
    "Every event needs a type and a source: give them on each line (JSON Lines members `type` and "
    "`source`, or CSV columns), fill Event type and Source on the form, or choose a template."
)
#: A CSV cell that is a number by JSON's grammar, or NaN/Infinity: refused, not kept as text,
#: when JSON cannot carry it (NaN, Infinity, 1e400, more than 4,300 digits).
NUMBER_CELL = re.compile(r"\s*-?(?:NaN|Infinity|(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*")
#: Errors listed to the operator; the rest are counted.
MAX_ERRORS_SHOWN = 50


@dataclass(frozen=True)
class BulkDefaults:
    """What a line leaves out: the form's event type, source and subject, and the template."""

    event_type: str
    source: str
    subject: str = ""
    template: EventTemplate | None = None


@dataclass(frozen=True)
class NumberedSpec:
    """One event to publish and where it came from ("line 3" of a file, "event 3" of N)."""

    label: str
    spec: EventSpec


def read_text(content: bytes) -> str:
    """The file as text: UTF-8, with or without a byte-order mark."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise PublishRejected([f"The file is not UTF-8 text (byte {error.start + 1})."]) from None


def _spec(defaults: BulkDefaults, data: Any, attributes: dict[str, Any]) -> EventSpec:
    """The line's event; an attribute it leaves out (absent, null or "") comes from the defaults.
    A given attribute is kept as it is (a number is refused by the input gate, not turned to text)."""

    def given(name: str, default: str) -> Any:
        value = attributes.get(name)
        return default if value is None or value == "" else value

    return EventSpec(
        event_type=given("type", defaults.event_type),
        source=given("source", defaults.source),
        subject=given("subject", defaults.subject),
        data=data,
        template=defaults.template,
    )


def _line_problem(problem: strictjson.JsonProblem) -> str:
    """A JSON problem of one line: the line is its own text, so only the column is said."""
    return str(problem).replace(" at line 1, column ", " at column ")


def parse_jsonl(text: str, defaults: BulkDefaults) -> tuple[list[NumberedSpec], list[str]]:
    """Events from JSON Lines (blank lines skipped), and each line's parse errors."""
    specs, errors = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = strictjson.loads(line, root="$", outer_levels=1)  # an envelope line's data is one level in
        except strictjson.JsonProblem as problem:
            errors.append(f"line {number}: {_line_problem(problem)}")
            continue
        if not isinstance(value, dict):
            errors.append(f"line {number}: a line must be a JSON object ({{…}}), not {json_type_name(value)}.")
            continue
        if "data" in value:
            specs.append(NumberedSpec(f"line {number}", _spec(defaults, value["data"], value)))
        else:
            specs.append(NumberedSpec(f"line {number}", _spec(defaults, value, {})))
    return specs, errors


def _cell(value: str, column: str) -> Any:
    """A CSV cell as a data value: JSON numbers, true, false and null are converted, other text
    is kept. Raises JsonProblem for a number JSON cannot carry (NaN, Infinity, 1e400, …)."""
    try:
        parsed = strictjson.loads(value, root=f"data.{column}")
    except strictjson.JsonProblem as problem:
        if NUMBER_CELL.fullmatch(value):
            hint = (
                " (pandas writes NaN for a missing value: leave the cell empty or write null)" if "NaN" in value else ""
            )
            raise strictjson.JsonProblem(f"column {column!r}: {_line_problem(problem)}{hint}") from None
        return value
    return parsed if parsed is None or isinstance(parsed, bool | int | float) else value


def _row_data(row: dict[str, str]) -> Any:
    """A row's event data: its `data` cell as JSON, else every other column as a field.
    Raises JsonProblem saying which cell is wrong."""
    if "data" not in row:
        return {name: _cell(value or "", name) for name, value in row.items() if name not in ATTRIBUTE_COLUMNS}
    try:
        return strictjson.loads(row["data"] or "", root="data")
    except strictjson.JsonProblem as problem:
        if str(problem).startswith("data"):  # a JSON path already names the place
            raise
        raise strictjson.JsonProblem(f"the data cell: {problem}") from None


def parse_csv(text: str, defaults: BulkDefaults) -> tuple[list[NumberedSpec], list[str]]:
    """Events from a CSV file with a header row, and each row's errors (numbered as file lines)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        return [], ["The CSV file is empty: it needs a header row."]
    specs, errors = [], []
    try:
        for row in reader:
            number = reader.line_num
            if None in row:
                errors.append(f"line {number}: more cells than the header has columns.")
                continue
            attributes = {name: row[name] for name in ATTRIBUTE_COLUMNS if row.get(name)}
            try:
                data = _row_data(row)
            except strictjson.JsonProblem as problem:
                errors.append(f"line {number}: {_line_problem(problem)}")
                continue
            specs.append(NumberedSpec(f"line {number}", _spec(defaults, data, attributes)))
    except csv.Error as error:
        errors.append(f"line {reader.line_num}: the CSV cannot be read further ({error}).")
    return specs, errors


def from_template(template: EventTemplate, count: int) -> list[NumberedSpec]:
    """`count` copies of the template's event, for rehearsals (numbered 1…count)."""
    defaults = BulkDefaults(template.event_type, template.source, template.subject, template)
    return [NumberedSpec(f"event {n}", _spec(defaults, template.data, {})) for n in range(1, count + 1)]


def bulk_send(
    *,
    source: str,
    specs: Sequence[NumberedSpec],
    parse_errors: Sequence[str] = (),
    providers: Sequence[ProviderConfig],
    filename: str = "",
    template: EventTemplate | None = None,
    actor: Actor | None = None,
    grant: ProductionGrant = NO_GRANT,
) -> BulkUpload:
    """Check every event, then create the upload, its events and deliveries in one transaction.

    Raises PublishRejected with every line's errors (a bad file creates nothing), or with the
    publish service's refusal (production without the grant)."""
    limit = settings.HELIOS_BULK_MAX_EVENTS
    if len(specs) > limit:
        raise PublishRejected([f"The upload has {len(specs):,} events; at most {limit:,} are accepted at once."])
    errors = list(parse_errors)
    if not specs and not errors:
        errors.append("The upload holds no events.")
    request = PublishRequest(
        events=[replace(numbered.spec, providers=tuple(providers)) for numbered in specs],
        actor=actor,
        grant=grant,
        labels=[numbered.label for numbered in specs],
    )
    groups: list[PlannedGroup] = []
    try:
        with tracing.span("bulk publish", attributes={"helios.event.count": len(specs)}):
            groups = plan(request)
    except PublishRejected as rejected:
        if rejected.refusal != Refusal.INVALID:
            raise
        errors += rejected.errors
    if errors:
        errors = sorted(errors, key=_line_order)
        if any(error.endswith(("The event type is required.", "The source is required.")) for error in errors):
            errors.append(MISSING_ATTRIBUTES_HINT)
        raise PublishRejected(errors)
    with transaction.atomic():
        upload = BulkUpload.objects.create(
            source=source,
            filename=filename[:255],
            template=template,
            event_count=len(specs),
            created_by=actor.account if actor else None,
        )
        upload.providers.set(providers)
        create_planned(groups, actor=actor, bulk_upload=upload)
    return upload


def send_upload(
    *,
    content: bytes | None,
    filename: str,
    file_format: str,
    count: int | None,
    template: EventTemplate | None,
    event_type: str,
    source: str,
    providers: Sequence[ProviderConfig],
    actor: Actor | None = None,
    grant: ProductionGrant = NO_GRANT,
) -> BulkUpload:
    """A file's events ("jsonl" or "csv"), or without a file `count` copies of the template's
    event, sent with `bulk_send`; the form's type and source fill what lines leave out."""
    if content is None:
        specs = from_template(template, count or 0)
        return bulk_send(
            source=BulkSource.TEMPLATE, specs=specs, providers=providers, template=template, actor=actor, grant=grant
        )
    # A template's subject is an example of one entity ("orders/ord-1001"): a line without a
    # subject gets none, never that example.
    defaults = BulkDefaults(
        event_type=event_type or (template.event_type if template else ""),
        source=source or (template.source if template else ""),
        template=template,
    )
    parse = parse_csv if file_format == BulkSource.CSV else parse_jsonl
    specs, parse_errors = parse(read_text(content), defaults)
    return bulk_send(
        source=file_format,
        specs=specs,
        parse_errors=parse_errors,
        providers=providers,
        filename=filename,
        template=template,
        actor=actor,
        grant=grant,
    )


def _line_order(error: str) -> tuple[int, str]:
    """Sort key: errors in file order ("line 12: …" after "line 3: …"), general ones first."""
    label, _, _ = error.partition(":")
    number = label.rpartition(" ")[2]
    return (int(number) if number.isdigit() else 0, error)


def shown(errors: Sequence[str]) -> list[str]:
    """The errors an operator sees, in file order: one line per distinct problem with the lines
    that have it ("lines 1, 2, 3 and 597 more: …"), at most MAX_ERRORS_SHOWN of them."""
    grouped: dict[str, list[str]] = {}
    for error in errors:
        label, separator, problem = error.partition(": ")
        kind, _, number = label.partition(" ")
        if separator and kind in ("line", "event") and number.isdigit():
            grouped.setdefault(f"{kind}s\0{problem}", []).append(number)
        else:
            grouped.setdefault(error, [])
    lines = []
    for key, numbers in grouped.items():
        kind, _, problem = key.partition("\0")
        if not numbers:
            lines.append(key)
        elif len(numbers) == 1:
            lines.append(f"{kind[:-1]} {numbers[0]}: {problem}")
        else:
            listed = ", ".join(numbers[:5]) + (f" and {len(numbers) - 5:,} more" if len(numbers) > 5 else "")
            lines.append(f"{kind} {listed}: {problem}")
    if len(lines) <= MAX_ERRORS_SHOWN:
        return lines
    return [*lines[:MAX_ERRORS_SHOWN], f"… and {len(lines) - MAX_ERRORS_SHOWN:,} more problems."]
