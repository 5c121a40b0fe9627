"""Streaming CSV without building it in memory, safe to open in a spreadsheet."""

import csv
from collections.abc import Iterable, Iterator
from typing import Any

#: A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets (OWASP,
#: "CSV Injection"): such a text cell is prefixed with an apostrophe, shown but not evaluated.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Echo:
    """A file-like object whose write returns the line: lets csv.writer feed a streaming response."""

    def write(self, value: str) -> str:
        return value


def spreadsheet_safe(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, neutralized; other values as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_lines(columns: list[str], rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The header, then one CSV line per row (text cells made spreadsheet-safe), one at a time."""
    writer = csv.DictWriter(Echo(), fieldnames=columns)
    yield writer.writeheader()
    for row in rows:
        yield writer.writerow({name: spreadsheet_safe(value) for name, value in row.items()})
