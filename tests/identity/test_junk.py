"""Junk identifiers: refused for every kind, with a reason naming the kind and never the value."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import IdentifierKind
from hub.config.model import IdentitySettings
from hub.events.intake import ingest_events
from hub.identity.junk import BUILTIN_JUNK, REPEATED_DIGITS_MIN, REPEATED_MIN, fold, is_junk
from hub.identity.normalize import InvalidIdentifier, normalize_identifier
from hub.testing import make_installation
from tests.conftest import OUTBOX
from tests.identity.conftest import cookie, email, login

KINDS = list(IdentifierKind)
REASON = "placeholder value is not an identifier"
BRIEF = ["null", "undefined", "none", "nil", "0", "-1", "anonymous", "guest", "unknown", "n/a",
         "test", "false", "true", "[object object]"]  # fmt: skip


def _case_variant(value: str, flips: list[bool]) -> str:
    flips = (flips + [False] * len(value))[: len(value)]
    return "".join(c.upper() if flip else c for c, flip in zip(value, flips, strict=True))


def _refused(kind: IdentifierKind, value: str, junk: frozenset[str] = frozenset()) -> str:
    with pytest.raises(InvalidIdentifier) as caught:
        normalize_identifier(kind, value, default_region="FR", junk=junk)
    assert caught.value.kind == kind.value
    return caught.value.reason


def test_the_briefs_placeholders_are_all_built_in():
    assert set(BRIEF) <= BUILTIN_JUNK


@settings(max_examples=300)
@given(
    value=st.sampled_from(sorted(BUILTIN_JUNK)),
    kind=st.sampled_from(KINDS),
    flips=st.lists(st.booleans(), max_size=20),
    before=st.sampled_from(["", " ", "\t", "\n "]),
    after=st.sampled_from(["", " ", "\r\n"]),
)
def test_placeholders_in_any_case_and_padding_are_refused_for_every_kind(
    value, kind, flips, before, after
):
    raw = before + _case_variant(value, flips) + after
    assert is_junk(raw)
    if raw.strip():  # an empty value fails the contract's own min_length first
        assert _refused(kind, raw) == REASON


@settings(max_examples=300)
@given(
    char=st.characters(codec="ascii", categories=["L", "N", "P", "S"]),
    count=st.integers(min_value=1, max_value=40),
    kind=st.sampled_from(KINDS),
)
def test_one_character_repeated_is_junk_from_its_threshold(char, count, kind):
    value = char * count
    needed = REPEATED_DIGITS_MIN if char.isdigit() else REPEATED_MIN
    zeros_or_separators = set(fold(value)) <= set("0 -_.:/+()#*")
    expected = count >= needed or zeros_or_separators or fold(value) in BUILTIN_JUNK
    assert is_junk(value) is expected
    if expected:
        assert _refused(kind, value) == REASON


@settings(max_examples=200)
@given(zeros=st.text(alphabet="0 -_.:/", min_size=1, max_size=30).filter(lambda v: "0" in v))
def test_all_zeros_with_separators_is_junk(zeros):
    assert is_junk(zeros)
    assert _refused(IdentifierKind.CRM_ID, zeros) == REASON


@pytest.mark.parametrize("value", ["1111", "2222222", "4711", "c-1", "ab", "a1a1a1", "0001"])
def test_real_looking_ids_are_not_junk(value):
    assert not is_junk(value)
    assert normalize_identifier(IdentifierKind.SHOP_CUSTOMER_ID, value, default_region=None)


@settings(max_examples=100)
@given(secret=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=4, max_size=40),
       kind=st.sampled_from(KINDS))
def test_configured_junk_is_refused_and_the_reason_never_holds_the_value(secret, kind):
    junk = frozenset({fold(secret)})
    reason = _refused(kind, f"  {secret.upper()} ", junk)
    assert reason == REASON and secret not in reason
    assert str(InvalidIdentifier(kind, reason)) == f"{kind.value}: {REASON}"


def test_junk_values_setting_is_folded_and_checked():
    settings_ = IdentitySettings(junk_values=["  No-Cookie ", "no-cookie", "CLIENT"])
    assert settings_.junk_values == ["no-cookie", "client"]
    with pytest.raises(ValueError, match="item 0: must be 1 to 256 characters"):
        IdentitySettings(junk_values=["   "])


def test_configured_junk_is_refused_by_event_intake(tmp_path):
    installation = make_installation(tmp_path / "h", bricks=OUTBOX)
    region = '[identity]\ndefault_region = "FR"'
    config = installation.config.read_text()
    installation.config.write_text(config.replace(region, region + '\njunk_values = ["no-cookie"]'))
    runtime = installation.runtime()
    report = ingest_events(
        runtime,
        [login("e1", cookie("NO-COOKIE"), email("ann@example.com", verified=True)),
         login("e2", cookie("ck-real"), email("null"))],
        source="api",
    )
    assert [(r.field, r.reason) for r in report.rejected] == [
        ("identifiers.0.value", f"site_cookie: {REASON}"),
        ("identifiers.1.value", f"email: {REASON}"),
    ]
    runtime.engine.dispose()
