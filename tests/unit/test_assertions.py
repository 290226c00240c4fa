"""The assertion language: every subject and operator, units, missing values, observed values, parse errors."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livesite.assertions import AssertionSyntaxError, Observation, Op, evaluate, parse
from livesite.results import AssertionOutcome, Phases

DOC = {
    "ok": True,
    "name": "shop",
    "price": 12.5,
    "count": "3",
    "nothing": None,
    "items": [{"id": 1, "price": 12.5}, {"id": 2, "price": 3}],
    "tags": ["new", "sale"],
    "a b": 1,
}


def seen(**fields: object) -> Observation:
    defaults: dict[str, object] = {
        "status_code": 200,
        "headers": {"content-type": "application/json", "age": "42", "x-cache": "HIT", "set-cookie": "sid=1"},
        "body": json.dumps(DOC).encode(),
        "phases": Phases(resolve=0.001, connect=0.010, tls=0.020, processing=0.100, transfer=0.005),
        "total_seconds": 0.136,
        "size_bytes": 2048,
        "cert_days_left": 30.0,
        "answers": ["127.0.0.1", "127.0.0.2"],
        "connected": True,
        "redirects": 2,
    }
    defaults.update(fields)
    return Observation(**defaults)  # type: ignore[arg-type]


def check(expr: str, observation: Observation | None = None) -> AssertionOutcome:
    return evaluate([parse(expr)], observation or seen())[0]


def holds(expr: str, observation: Observation | None = None) -> bool:
    return check(expr, observation).passed


# ---------------------------------------------------------------------------------------------- subjects


@pytest.mark.parametrize(
    "expr",
    [
        "status == 200",
        "status != 500",
        "status in [200, 204]",
        "status in 200..299",
        "status !in [500, 502]",
        "status !in 500..599",
        "status >= 200",
        "status < 300",
        "status==200",
        "status!=500",
    ],
)
def test_status_assertions_hold_for_a_200(expr: str) -> None:
    assert holds(expr)


@pytest.mark.parametrize(
    "expr",
    [
        "latency < 300ms",
        "latency < 0.2s",
        "latency < 1m",
        "latency < 137",
        "latency > 136000us",
        "latency.resolve < 2ms",
        "latency.connect == 10ms",
        "latency.tls > 19ms",
        "latency.processing >= 100",
        "latency.transfer <= 5ms",
    ],
)
def test_latency_reads_bare_numbers_as_milliseconds_and_knows_units(expr: str) -> None:
    assert holds(expr)


@pytest.mark.parametrize(
    "expr",
    [
        "header.X-Cache == HIT",
        "header.x-cache == 'HIT'",
        "header.Age < 60",
        "header.Age == 42",
        "header.Set-Cookie exists",
        "header.Content-Type matches 'json$'",
        "header.Content-Type contains json",
        "header.Content-Type !contains html",
        "header.Content-Type !matches '^text/'",
        "header.Missing !exists",
        "len(header.X-Cache) == 3",
    ],
)
def test_header_names_are_case_insensitive_and_values_compare_as_text_or_number(expr: str) -> None:
    assert holds(expr)


@pytest.mark.parametrize(
    "expr",
    [
        "body contains 'shop'",
        'body contains "\\"name\\": \\"shop\\""',
        "body !contains 'Out of stock'",
        "body matches 'items.*sale'",
        "len(body) > 100",
        "size == 2048",
        "size > 2kB",
        "size > 2000B",
        "size < 2.1kB",
        "size == 2KiB",
        "size < 1MB",
        "size < 1MiB",
    ],
)
def test_body_and_size_assertions(expr: str) -> None:
    assert holds(expr)


def test_size_falls_back_to_the_body_length_when_no_size_was_measured() -> None:
    assert holds("size == 5", seen(size_bytes=None, body=b"hello"))


@pytest.mark.parametrize(
    "expr",
    [
        "json.ok == true",
        "json.ok != false",
        "json.name == shop",
        "json.name == 'shop'",
        "json.price == 12.5",
        "json.price > 12",
        "json.count == 3",
        "json.count < 4",
        "json.nothing == null",
        "json.nothing exists",
        "json.missing !exists",
        "json.items[0].id == 1",
        "json.items[1].price == 3",
        "json.items[0].price == 12.50",
        'json["a b"] == 1',
        "json.tags contains sale",
        "json.tags !contains old",
        "json contains name",
        "json.name in [shop, store]",
        "json.name !in ['cart']",
        "json.tags == ['new', 'sale']".replace("'", '"'),
        'json.items[1] == {"id": 2, "price": 3}',
        "len(json.items) == 2",
        "len(json.tags) >= 2",
        "len(json) == 8",
        "$.items[0].id == 1",
    ],
)
def test_json_paths_reach_values_of_every_type(expr: str) -> None:
    assert holds(expr)


@pytest.mark.parametrize(
    "expr",
    [
        "cert.days_left > 14",
        "cert.days_left > 14d",
        "cert.days_left > 48h",
        "cert.days_left < 5w",
        "cert.days_left == 720h",
        "answers contains 127.0.0.1",
        "answers !contains 10.0.0.1",
        "len(answers) == 2",
        "connected == true",
        "redirects == 2",
        "redirects <= 3",
    ],
)
def test_certificate_dns_tcp_and_redirect_subjects(expr: str) -> None:
    assert holds(expr)


# ---------------------------------------------------------------------------------------------- failures and observed values


@pytest.mark.parametrize(
    ("expr", "observed"),
    [
        ("status == 500", "200"),
        ("latency < 100ms", "136.0ms"),
        ("latency.connect < 5ms", "10.0ms"),
        ("header.Age < 10", "42"),
        ("json.name == cart", "shop"),
        ("json.items[0] == 1", '{"id":1,"price":12.5}'),
        ("json.tags contains old", '["new","sale"]'),
        ("len(json.items) > 5", "2"),
        ("cert.days_left > 60", "30.0d"),
        ("answers contains 10.0.0.1", '["127.0.0.1","127.0.0.2"]'),
        ("size < 1kB", "2048"),
        ("connected == false", "true"),
    ],
)
def test_a_failed_assertion_keeps_the_value_it_observed(expr: str, observed: str) -> None:
    outcome = check(expr)
    assert not outcome.passed
    assert outcome.observed == observed
    assert outcome.describe() == f"expected {expr}, observed {observed}"


def test_a_long_observed_value_is_cut_at_120_characters() -> None:
    outcome = check("body contains nope", seen(body=b"x" * 500))
    assert outcome.observed == "x" * 120 + "…"


def test_an_outcome_records_the_expression_as_written_and_whether_it_is_a_budget() -> None:
    outcome = evaluate([parse("  latency <  300ms ", budget=True)], seen())[0]
    assert outcome.expr == "latency <  300ms"
    assert outcome.budget is True and outcome.passed is True


def test_evaluate_keeps_the_order_of_the_rules() -> None:
    rules = [parse("status == 200"), parse("status == 201"), parse("json.ok == true")]
    assert [o.passed for o in evaluate(rules, seen())] == [True, False, True]


# ---------------------------------------------------------------------------------------------- missing values


@pytest.mark.parametrize(
    "expr",
    [
        "header.X-Missing == x",
        "header.X-Missing < 5",
        "header.X-Missing contains x",
        "header.X-Missing matches x",
    ],
)
def test_a_positive_assertion_about_a_missing_header_fails_and_observes_nothing(expr: str) -> None:
    outcome = check(expr)
    assert not outcome.passed
    assert outcome.observed is None
    assert outcome.describe().endswith("observed nothing")


@pytest.mark.parametrize(
    "expr",
    [
        "header.X-Missing != x",
        "header.X-Missing !in [a, b]",
        "header.X-Missing !contains x",
        "header.X-Missing !matches x",
    ],
)
def test_a_negative_assertion_about_a_missing_header_holds(expr: str) -> None:
    assert holds(expr)


@pytest.mark.parametrize(
    ("expr", "observation"),
    [
        ("status == 200", Observation()),
        ("latency < 1s", Observation()),
        ("latency.connect < 1s", Observation()),
        ("cert.days_left > 1", Observation()),
        ("connected == true", Observation()),
        ("redirects == 0", Observation()),
        ("json.ok == true", Observation(body=b"<html>not json</html>")),
        ("json.items[9].id == 1", seen()),
        ("json.name.first == x", seen()),
        ("len(json.nothing) == 0", seen()),
    ],
)
def test_a_value_that_was_not_observed_fails_instead_of_reading_as_zero(
    expr: str, observation: Observation
) -> None:
    outcome = check(expr, observation)
    assert not outcome.passed
    assert outcome.observed is None


def test_a_number_compared_with_text_fails_rather_than_raising() -> None:
    assert not holds("json.name > 3")
    assert not holds("json.ok < 3")  # true is not the number 1


def test_a_quoted_number_compares_as_text() -> None:
    assert holds("header.Age == '42'")
    assert not holds("header.Age == '042'")
    assert holds("header.Age == 042")  # unquoted: compared as numbers


def test_true_does_not_equal_the_text_true() -> None:
    assert not holds("json.ok == 'true'")
    assert not holds("json.nothing == 'null'")


# ---------------------------------------------------------------------------------------------- parsing


def test_parse_builds_a_small_tree_once() -> None:
    rule = parse("len(json.items) >= 3")
    assert rule.op is Op.ge
    assert rule.subject.name == "json" and rule.subject.length and rule.subject.path == ("items",)
    assert rule.operand is not None and rule.operand.number == 3


def test_units_are_stored_in_base_units() -> None:
    assert parse("latency < 300ms").operand.number == pytest.approx(0.3)  # type: ignore[union-attr]
    assert parse("size < 100kB").operand.number == 100_000  # type: ignore[union-attr]
    assert parse("cert.days_left > 36h").operand.number == pytest.approx(1.5)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("", "empty assertion", "write e.g. 'status == 200'"),
        ("   ", "empty assertion", "write e.g. 'status == 200'"),
        (
            "stats == 200",
            "unknown subject 'stats'",
            "subjects: status, latency, latency.<phase>, header.<Name>, body, json.<path>, len(<subject>), size, cert.days_left, answers, connected, redirects, rcode",
        ),
        (
            "latency.dns < 5ms",
            "unknown latency phase 'dns'",
            "phases: resolve, connect, tls, processing, transfer",
        ),
        ("header. == 1", "header name missing", "write e.g. header.Cache-Control"),
        ("json.items[x] == 1", "bad JSON path 'json.items[x]' at '[x]'", "write e.g. json.items[0].id"),
        (
            "status 200",
            "no operator after 'status' in 'status 200'",
            "operators: == != < <= > >= in !in contains !contains matches !matches exists !exists",
        ),
        (
            "status =~ 200",
            "no operator after 'status' in 'status =~ 200'",
            "operators: == != < <= > >= in !in contains !contains matches !matches exists !exists",
        ),
        ("status ==", "'==' needs an operand in 'status =='", None),
        (
            "status === 200",
            "unknown operator '===' in 'status === 200'",
            "did you mean '=='? operators: == != < <= > >= in !in contains matches exists",
        ),
        (
            "latency << 3s",
            "unknown operator '<<' in 'latency << 3s'",
            "did you mean '<'? operators: == != < <= > >= in !in contains matches exists",
        ),
        (
            "status <> 500",
            "unknown operator '<>' in 'status <> 500'",
            "did you mean '!='? operators: == != < <= > >= in !in contains matches exists",
        ),
        ("status exists 200", "'exists' takes no operand, found '200' in 'status exists 200'", None),
        ("status < fast", "'<' needs a number, found 'fast' in 'status < fast'", None),
        ("status == 200ms", "status takes no unit, found 'ms' in 'status == 200ms'", None),
        ("latency < 3 parsecs", "unknown time unit 'parsecs' in 'latency < 3 parsecs'", "use ms, s or m"),
        ("size < 3 bytes", "unknown size unit 'bytes' in 'size < 3 bytes'", "use B, kB, MB, KiB, MiB"),
        ("cert.days_left > 3y", "unknown unit 'y' for days in 'cert.days_left > 3y'", "use d, h or w"),
        ("status in 299..200", "range '299..200' is empty (low > high) in 'status in 299..200'", None),
        ("status in 200", "'in' needs a list [a, b] or a range a..b, found '200' in 'status in 200'", None),
        (
            "body matches '(unclosed'",
            "bad regular expression '(unclosed': missing ), unterminated subpattern at position 0",
            None,
        ),
        ("len(status) == 3", "len() works on body, json, header or answers, not 'status'", None),
        ("len(body == 3", "unclosed 'len(' in 'len(body == 3'", None),
    ],
)
def test_a_parse_error_says_which_part_is_wrong_and_how_to_write_it(
    text: str, message: str, hint: str | None
) -> None:
    with pytest.raises(AssertionSyntaxError) as caught:
        parse(text)
    assert caught.value.message == message
    assert caught.value.hint == hint


def test_an_operand_that_starts_with_an_operator_character_may_be_quoted() -> None:
    assert holds('header.X-Cache != "=HIT"')
    assert parse("header.X-Flags == !important").operand is not None


def test_a_deeply_nested_regex_is_a_parse_error_not_a_crash() -> None:
    with pytest.raises(AssertionSyntaxError, match="too deeply nested"):
        parse("body matches " + "(" * 3000 + ")" * 3000)


@given(st.text(max_size=80))
def test_parse_raises_nothing_but_assertion_syntax_error_on_arbitrary_text(text: str) -> None:
    try:
        parse(text)
    except AssertionSyntaxError as e:
        assert e.message


_PIECES = st.sampled_from(
    [
        "status",
        "latency",
        "latency.connect",
        "header.Age",
        "body",
        "json.items[0].id",
        "json",
        "len(",
        ")",
        "size",
        "cert.days_left",
        "answers",
        "connected",
        "redirects",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        " in ",
        "!in",
        "contains",
        "!contains",
        "matches",
        "!matches",
        "exists",
        "!exists",
        "[",
        "]",
        ",",
        "..",
        "'",
        '"',
        "200",
        "-1.5",
        "3ms",
        "2kB",
        "14d",
        "true",
        "null",
        "(",
        "$",
        ".",
        " ",
        '["a b"]',
        "{",
        "}",
    ]
)


@given(st.lists(_PIECES, max_size=8).map("".join))
def test_parse_raises_nothing_but_assertion_syntax_error_on_assertion_like_text(text: str) -> None:
    with contextlib.suppress(AssertionSyntaxError):
        parse(text)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


@given(st.lists(_PIECES, max_size=8).map("".join), _JSON, st.binary(max_size=20))
def test_evaluate_never_raises_on_any_parsed_rule_and_any_body(text: str, doc: object, raw: bytes) -> None:
    try:
        rule = parse(text)
    except AssertionSyntaxError:
        return
    for body in (json.dumps(doc).encode(), raw):
        outcome = evaluate([rule], seen(body=body, headers={"age": "nan"}))[0]
        assert isinstance(outcome.passed, bool)


def test_a_regex_python_only_warns_about_still_loads() -> None:
    # Hypothesis found this: Python compiles '[[a]' with a FutureWarning ("possible nested set"),
    # which escaped parse() as an exception wherever warnings are errors.
    rule = parse('body matches "[[a]"')
    assert evaluate([rule], Observation(body=b"x[y"))[0].passed
    with pytest.raises(AssertionSyntaxError, match="unterminated character set"):
        parse("status !matches [[")
