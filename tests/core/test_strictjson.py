"""Strict JSON: every kind of text Python's json accepts and the clouds or PostgreSQL do not is
refused with a message that says what and where; any other text parses to what json parses."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import strictjson
from core.strictjson import JsonProblem

GENERATED = settings(max_examples=500, deadline=None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": NaN}', "NaN is not a JSON number at line 1, column 7"),
        ('{"a":\n  -Infinity}', "-Infinity is not a JSON number at line 2, column 3"),
        ('{"a": [1, Infinity]}', "Infinity is not a JSON number at line 1, column 11"),
        ('{"a": 1e400}', "data.a: the number is too large"),
        ('{"a": -1e400}', "data.a: the number is too large"),
        ('{"a": ["x", "\\u0000"]}', "data.a[1]: the text contains the NUL character"),
        ('{"a\\u0000": 1}', "data: a key contains the NUL character"),
        ('{"a": "\\ud800"}', "data.a: the text contains a lone surrogate (\\ud800)"),
        ('{"\\udfff": 1}', "data: a key contains a lone surrogate (\\udfff)"),
        ('{"a": 1, "b": {"c": 1, "c": 2}}', "data.b: the key 'c' appears more than once"),
        ('{"a": ' + "1" * 4301 + "}", "A number has more than 4,300 digits at line 1, column 7"),
        ("[" * 5000 + "]" * 5000, "nested more than 32 levels deep"),
        ('{"x": ' + "[" * 900 + "]" * 900 + "}", "data.x[0][0]"),
        ("[" * 33 + "]" * 33, "nested more than 32 levels deep"),
        ('{"a": 1', "Invalid JSON at line 1, column 8"),
        (b"\xff{}", "The text is not UTF-8 (byte 1)"),
    ],
)
def test_what_json_accepts_and_helios_refuses(text, message):
    with pytest.raises(JsonProblem) as refused:
        strictjson.loads(text)
    assert message in str(refused.value)


def test_the_deepest_nesting_accepted_and_exact_integers():
    deepest = "[" * 32 + "]" * 32
    assert strictjson.loads(deepest) == json.loads(deepest)
    digits = "9" * 4300
    assert strictjson.loads(f'{{"n": {digits}, "m": -{digits}}}') == {"n": int(digits), "m": -int(digits)}
    assert strictjson.loads('{"name": "Zoë ✓ 🚀", "k": "\\u00e9"}') == {"name": "Zoë ✓ 🚀", "k": "é"}


def test_a_value_not_from_text_is_checked_the_same_way():
    assert strictjson.problems({"a": [1.5, "x", None, True]}) == []
    assert strictjson.problems({"a": float("nan")}) == ["data.a: NaN is not a JSON number."]
    assert strictjson.problems({"a": float("inf")})[0].startswith("data.a: the number is too large")
    assert strictjson.problems({"k": {"bad key": "\x00"}}) == [
        'data.k["bad key"]: the text contains the NUL character (\\u0000).'
    ]
    assert strictjson.problems({"when": object()})[0] == "data.when: object is not a JSON value."
    assert strictjson.problems({1: 2}) == ["data: the key 1 is not a string."]
    assert strictjson.problems({"n": 10**4300}) == ["data.n: the number has more than 4,300 digits."]


#: Text as callers may hand it over: now and then a NUL or a lone surrogate (Hypothesis's text has none).
characters = st.characters() | st.sampled_from(["\x00", "\ud800", "\udfff"])
texts, keys = st.text(characters), st.text(characters, max_size=10)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | texts,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=30,
)


@GENERATED
@given(json_values, st.booleans())
def test_any_acceptable_value_round_trips_exactly(value, ascii_only):
    """Escaped (`\\u0000`, `\\ud800`) or, in a `str`, a surrogate as it is: refused exactly when
    the value has a problem (loads looks at strings only when the text can hold a bad one)."""
    text = json.dumps(value, ensure_ascii=ascii_only)
    try:
        parsed = strictjson.loads(text)
    except JsonProblem as problem:  # only for a reason the value really has
        assert strictjson.problems(value), problem
    else:
        assert parsed == value and strictjson.problems(value) == []


hostile_fragments = st.sampled_from(
    ["NaN", "-Infinity", "1e400", '"\\u0000"', '"\\ud834"', "[" * 40 + "]" * 40, "9" * 4400, '{"a":1,"a":1}']
)


@GENERATED
@given(st.one_of(st.text(), json_values.map(json.dumps), hostile_fragments.map(lambda f: f'{{"x": [1, {f}]}}')))
def test_any_text_parses_or_is_refused_in_words(text):
    try:
        value = strictjson.loads(text)
    except JsonProblem as problem:
        assert str(problem) and "Traceback" not in str(problem)
    else:
        assert strictjson.problems(value) == []
        json.dumps(value).encode("utf-8")  # storable and sendable
