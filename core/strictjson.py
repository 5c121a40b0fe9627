"""Strict JSON: what every way into HELIOS parses event data and cloud bodies with.

Python's `json` accepts text that the clouds, PostgreSQL or HELIOS's own pages cannot take:
`NaN`/`Infinity`, numbers that overflow to infinity (`1e400`), `\\u0000` (PostgreSQL refuses it),
lone surrogates (`\\ud800`: every UTF-8 encode fails), duplicate keys (the last silently wins),
nesting deep enough to exhaust the recursion limit, and integers of more than 4,300 digits.
`loads` refuses each of them with a `JsonProblem` that says what and where (line and column of
the text, or the JSON path of the value); `problems` checks a value that did not come from text.
"""

import json
import math
import re
from typing import Any

#: The deepest nesting accepted (objects and arrays inside each other). Consumers of the three
#: clouds choke long before Python does; 32 levels is deep for any real event.
MAX_DEPTH = 32
#: Python refuses to convert longer integers (sys.get_int_max_str_digits()).
MAX_INT_DIGITS = 4300
_TOO_MANY_DIGITS = 10**MAX_INT_DIGITS
_UNSAFE_CHARACTER = re.compile(r"[\x00\ud800-\udfff]")
#: Where a NUL or a surrogate can come from in JSON text: an escape, or a surrogate in the text
#: itself (a `str` given; raw control characters do not parse). Text without any holds neither.
_UNSAFE_SOURCE = re.compile(r"\\u(?:0000|d[89a-f])|[\ud800-\udfff]", re.IGNORECASE)
#: Tokens outside strings, for locating a problem the parser's hooks cannot place.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?Infinity|NaN|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[\[\]{}]')


class JsonProblem(ValueError):
    """The text or value is not acceptable; the message says what and where."""


class _DuplicateKeys(dict):
    """An object in which a key appeared more than once (the key is kept for the message)."""

    duplicate: str = ""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) == len(pairs):
        return value
    seen: set[str] = set()
    flagged = _DuplicateKeys(value)
    flagged.duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
    return flagged


def _refuse_constant(name: str) -> Any:
    raise _ConstantFound(name)


class _ConstantFound(Exception):
    pass


def loads(
    text: str | bytes,
    *,
    root: str = "data",
    max_depth: int = MAX_DEPTH,
    outer_levels: int = 0,
    check_strings: bool = True,
) -> Any:
    """Parse JSON text strictly. Raises JsonProblem naming the problem and where it is.

    `root` names the whole value in paths ("data.lines[0]"). `outer_levels` are levels of an
    envelope around the data that do not count against `max_depth` (a bulk line's object). With
    `check_strings=False`, NUL and lone surrogates in strings are let through (for a body that is
    stored as escaped text)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise JsonProblem(f"The text is not UTF-8 (byte {error.start + 1}).") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_pairs)
    except json.JSONDecodeError as error:
        raise JsonProblem(f"Invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}.") from None
    except _ConstantFound as found:
        where = _locate(text, lambda token: token in ("NaN", "Infinity", "-Infinity"))
        raise JsonProblem(f"{found} is not a JSON number{where}; JSON has no NaN or infinity.") from None
    except RecursionError:
        where = _depth_location(text, max_depth + outer_levels)
        raise JsonProblem(f"{_too_deep(max_depth)}{where}.") from None
    except ValueError:  # the only other ValueError json raises: an integer too long to convert
        where = _locate(text, lambda token: len(token.lstrip("-")) > MAX_INT_DIGITS and token[-1].isdigit())
        raise JsonProblem(f"A number has more than {MAX_INT_DIGITS:,} digits{where}.") from None
    check_strings = check_strings and _UNSAFE_SOURCE.search(text) is not None
    if problem := _first_problem(value, root, max_depth, check_strings, outer_levels):
        raise JsonProblem(problem)
    return value


def problems(value: Any, *, root: str = "data", max_depth: int = MAX_DEPTH) -> list[str]:
    """What makes a value (not from text: a CSV cell, a caller's dict) unacceptable as JSON data."""
    problem = _first_problem(value, root, max_depth, check_strings=True)
    return [problem] if problem else []


def unsafe_text(text: str) -> str:
    """Why a string cannot be stored or sent ("" when it can): NUL or a lone surrogate."""
    found = _UNSAFE_CHARACTER.search(text)
    if found is None:
        return ""
    if found.group() == "\x00":
        return "contains the NUL character (\\u0000)"
    return f"contains a lone surrogate (\\u{ord(found.group()):04x}), which is not Unicode text"


def _first_problem(value: Any, root: str, max_depth: int, check_strings: bool, outer_levels: int = 0) -> str:
    """The first problem of a parsed value, in document order ("" when none), without recursion.
    A value's path is spelled only for the problem found (most values have none)."""
    stack: list[tuple[Any, _Where, int]] = [(value, None, -outer_levels)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            if check_strings and (why := unsafe_text(item)):
                return f"{_path(root, where)}: the text {why}."
        elif isinstance(item, dict):
            if depth >= max_depth:
                return f"{_path(root, where)}: {_too_deep(max_depth)}."
            if isinstance(item, _DuplicateKeys):
                return f"{_path(root, where)}: the key {item.duplicate!r} appears more than once; keep one."
            for key in reversed(list(item)):
                if not isinstance(key, str):
                    return f"{_path(root, where)}: the key {key!r} is not a string."
                if check_strings and (why := unsafe_text(key)):
                    return f"{_path(root, where)}: a key {why}."
                stack.append((item[key], (where, key), depth + 1))
        elif isinstance(item, list | tuple):
            if depth >= max_depth:
                return f"{_path(root, where)}: {_too_deep(max_depth)}."
            stack.extend((item[index], (where, index), depth + 1) for index in range(len(item) - 1, -1, -1))
        elif isinstance(item, float):
            if math.isnan(item):
                return f"{_path(root, where)}: NaN is not a JSON number."
            if math.isinf(item):
                return f"{_path(root, where)}: the number is too large (beyond ±1.8e308, it would be infinity)."
        elif isinstance(item, int) and not isinstance(item, bool):
            if abs(item) >= _TOO_MANY_DIGITS:
                return f"{_path(root, where)}: the number has more than {MAX_INT_DIGITS:,} digits."
        elif item is not None and not isinstance(item, bool):
            return f"{_path(root, where)}: {type(item).__name__} is not a JSON value."
    return ""


#: Where a value sits: None for the root, else (where its container sits, its key or index).
_Where = tuple[Any, str | int] | None


def _path(root: str, where: _Where) -> str:
    """The JSON path of a value ("data.lines[0]", 'data["a b"]')."""
    steps: list[str | int] = []
    while where is not None:
        where, step = where
        steps.append(step)
    path = root
    for step in reversed(steps):
        if isinstance(step, int):
            path = f"{path}[{step}]"
        else:
            path = f"{path}.{step}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", step) else f"{path}[{json.dumps(step)}]"
    return path


def _too_deep(max_depth: int) -> str:
    return f"nested more than {max_depth} levels deep (HELIOS accepts at most {max_depth})"


def _position(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f" at line {line}, column {column}"


def _locate(text: str, wanted: Any) -> str:
    """ " at line L, column C" of the first token outside strings that `wanted` accepts."""
    for match in _TOKEN.finditer(text):
        if not match.group().startswith('"') and wanted(match.group()):
            return _position(text, match.start())
    return ""


def _depth_location(text: str, max_depth: int) -> str:
    depth = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > max_depth:
                return _position(text, match.start())
        elif token in ("]", "}"):
            depth -= 1
    return ""


def pretty(value: Any) -> str:
    """Indented JSON text for a page or a form; a value stored before the input gate existed that
    is nested too deeply to encode gets a note instead of an error page."""
    try:
        return json.dumps(value, indent=2, ensure_ascii=False)
    except (RecursionError, ValueError):
        return f"(This value is nested too deeply to show; HELIOS accepts at most {MAX_DEPTH} levels.)"
