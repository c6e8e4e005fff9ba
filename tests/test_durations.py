"""Config durations: explicit units, no calendar months, canonical round-trippable output."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from hub.durations import DURATION_PATTERN, Duration, format_duration, parse_duration

HINT = "use a number and a unit, e.g. 30s, 15m, 48h, 7d, 2w"
MAX_SECONDS = timedelta.max.days * 86_400 + timedelta.max.seconds


class Caps(BaseModel):
    link_ttl: Duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45s", timedelta(seconds=45)),
        ("90m", timedelta(minutes=90)),
        ("48h", timedelta(hours=48)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
        ("  180d\n", timedelta(days=180)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("P7D", timedelta(days=7)),
        ("P1W", timedelta(weeks=1)),
        ("PT6M", timedelta(minutes=6)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("PT45S", timedelta(seconds=45)),
    ],
)
def test_parse_accepts_compact_and_iso_forms(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert re.fullmatch(DURATION_PATTERN, text)


def test_parse_error_message_quotes_the_text_and_shows_examples() -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration("abc")
    assert str(caught.value) == f"invalid duration 'abc': {HINT}"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", HINT),
        ("   ", HINT),
        ("abc", HINT),
        ("5", HINT),
        ("7D", HINT),
        ("1.5h", HINT),
        ("PT0.5S", HINT),
        ("1d 12h", HINT),
        ("P", HINT),
        ("PT", HINT),
        ("P1DT", HINT),
        ("3x", HINT),
        ("0s", "must be longer than zero"),
        ("0d0h", "must be longer than zero"),
        ("PT0S", "must be longer than zero"),
        ("-1d", "must be longer than zero"),
        ("12h1d", "largest first"),
        ("1d1d", "give each unit once"),
        ("30s1m", "largest first"),
        ("1mo", "use days"),
        ("6M", "use days"),
        ("2y", "use days"),
        ("1year", "use days"),
        ("P1Y", "use days"),
        ("P6M", "use days"),
        ("P1Y2M3D", "use days"),
        ("9999999999d", "too long"),
    ],
)
def test_parse_rejects_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)) as caught:
        parse_duration(text)
    assert str(caught.value).startswith(f"invalid duration {text!r}: ")


def test_parse_error_does_not_echo_huge_garbage() -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration("9" * 5000 + "s")
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=90), "1m30s"),
        (timedelta(days=1, hours=12), "1d12h"),
        (timedelta(weeks=2), "2w"),
        (timedelta(days=7), "1w"),
        (timedelta(days=180), "180d"),
        (timedelta(days=15, seconds=1), "15d1s"),
        (timedelta(hours=48), "2d"),
        (timedelta(seconds=1), "1s"),
    ],
)
def test_format_is_canonical(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@pytest.mark.parametrize(
    "value",
    [timedelta(0), timedelta(seconds=-1), timedelta(seconds=1.5), timedelta(microseconds=1)],
)
def test_format_refuses_what_parse_could_not_read_back(value: timedelta) -> None:
    with pytest.raises(ValueError):
        format_duration(value)


whole_seconds = st.integers(min_value=1, max_value=MAX_SECONDS).map(lambda s: timedelta(seconds=s))


@given(whole_seconds)
def test_format_then_parse_round_trips(value: timedelta) -> None:
    text = format_duration(value)
    assert parse_duration(text) == value
    assert re.fullmatch(DURATION_PATTERN, text)
    assert format_duration(parse_duration(text)) == text


@given(
    st.lists(st.integers(min_value=0, max_value=10_000), min_size=5, max_size=5).filter(any),
    st.booleans(),
)
def test_compact_and_iso_forms_agree(counts: list[int], spaced: bool) -> None:
    w, d, h, m, s = counts
    expected = timedelta(weeks=w, days=d, hours=h, minutes=m, seconds=s)
    compact = "".join(f"{n}{u}" for n, u in zip(counts, "wdhms", strict=True) if n)
    time = "".join(f"{n}{u}" for n, u in zip((h, m, s), "HMS", strict=True) if n)
    iso = "P" + "".join(f"{n}{u}" for n, u in zip((w, d), "WD", strict=True) if n)
    iso += f"T{time}" if time else ""
    pad = " " if spaced else ""
    assert parse_duration(pad + compact + pad) == expected
    assert parse_duration(iso) == expected


@given(st.text())
def test_parse_raises_only_value_error(text: str) -> None:
    try:
        value = parse_duration(text)
    except ValueError as err:
        message = str(err)
    else:
        assert value > timedelta(0)
        assert parse_duration(format_duration(value)) == value
        return
    assert message.startswith("invalid duration ")


# --- the pydantic type -------------------------------------------------------------------------


def test_config_model_reads_text_and_writes_canonical_text() -> None:
    caps = Caps(link_ttl="180d")
    assert caps.link_ttl == timedelta(days=180)
    assert caps.model_dump() == {"link_ttl": "180d"}
    assert caps.model_dump_json() == '{"link_ttl":"180d"}'
    assert Caps.model_validate_json('{"link_ttl": "1d12h"}').link_ttl == timedelta(hours=36)
    assert Caps.model_validate(Caps(link_ttl="PT90M").model_dump()).link_ttl == timedelta(
        minutes=90
    )


def test_config_model_accepts_a_positive_timedelta() -> None:
    assert Caps(link_ttl=timedelta(hours=3)).link_ttl == timedelta(hours=3)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("abc", f"invalid duration 'abc': {HINT}"),
        ("0s", "invalid duration '0s': must be longer than zero"),
        ("1mo", "use days"),
        (timedelta(0), "must be longer than zero"),
        (timedelta(hours=-1), "must be longer than zero"),
        (timedelta(milliseconds=1500), "whole seconds"),
        (3600, HINT),
        (None, HINT),
    ],
)
def test_config_model_errors_carry_the_message(value: object, fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Caps(link_ttl=value)
    (error,) = caught.value.errors()
    assert error["loc"] == ("link_ttl",)
    assert fragment in error["msg"]


def test_json_schema_describes_a_string_with_a_pattern() -> None:
    schema = Caps.model_json_schema()["properties"]["link_ttl"]
    assert schema["type"] == "string"
    assert schema["pattern"] == DURATION_PATTERN
    assert schema["examples"] == ["48h", "7d"]
    for example in schema["examples"]:
        assert re.fullmatch(schema["pattern"], example)
        parse_duration(example)
