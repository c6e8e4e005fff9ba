"""Identifier normalisation: one person, one normalised value; no personal data in errors."""

from __future__ import annotations

import pickle
import traceback
from collections.abc import Callable

import phonenumbers
import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st

from contracts.vocabulary import IdentifierKind
from hub.identity.normalize import (
    InvalidIdentifier,
    is_junk,
    normalize_email,
    normalize_identifier,
    normalize_phone,
)

PLACEHOLDER = "placeholder value is not an identifier"

#: Every reason the module may give. Reasons are fixed texts so they cannot carry the value;
#: a new reason must be added here deliberately, after checking it quotes nothing of the input.
KNOWN_REASONS = frozenset(
    {
        PLACEHOLDER,
        "unknown identifier kind",
        "longer than 256 characters",
        "contains control or invisible characters",
        "not a phone number",
        "not a valid number for its region",
        "needs a country code (+...) or a default region",
        "not a valid email address",
        *(
            f"not a valid email address ({detail})"
            for detail in (
                "missing @",
                "more than one @",
                "look-alike @ character",
                "too long",
                "nothing before the @",
                "nothing after the @",
                "the domain needs a dot",
                "reserved domain",
                "invalid top-level domain",
                "quoted addresses are not accepted",
                "extra text around the address",
                "IP address domains are not accepted",
                "misplaced dot",
                "misplaced hyphen",
                "invalid characters before the @",
                "invalid domain",
                "unstable letter case",
            )
        ),
    }
)

JUNK = [
    "", "   ", "null", "NULL", " None ", "nil", "undefined", "NaN", "n/a", "N/A", "na", "-",
    "0", "false", "True", "anonymous", "anon", "Unknown", "guest", "TEST", "default",
    "[object Object]", "0000", "000-000", "00000000-0000-0000-0000-000000000000", "\t0 0\n",
]  # fmt: skip
OPAQUE_KINDS = [
    IdentifierKind.SHOP_CUSTOMER_ID,
    IdentifierKind.CRM_ID,
    IdentifierKind.SITE_COOKIE,
    IdentifierKind.PARTNER_COOKIE,
]


# --- email -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["john@example.com", "John@Example.COM ", " JOHN@EXAMPLE.COM", "\tjohn@example.Com\n"],
)
def test_email_case_and_space_variants_give_one_value(raw: str) -> None:
    assert normalize_email(raw) == "john@example.com"


def test_email_unicode_and_punycode_domains_give_one_value() -> None:
    assert normalize_email("Jöhn@Exämple.com") == "jöhn@exämple.com"
    assert normalize_email("jöhn@xn--exmple-cua.com") == "jöhn@exämple.com"


def test_email_through_dispatch_is_the_same() -> None:
    assert normalize_identifier("email", " John@Example.COM", default_region=None) == (
        "john@example.com"
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("john.example.com", "not a valid email address (missing @)"),
        ("@example.com", "not a valid email address (nothing before the @)"),
        ("jane.doe@acme-corp", "not a valid email address (the domain needs a dot)"),
        ("john@example..com", "not a valid email address (misplaced dot)"),
        ("Jo <jo@example.com>", "not a valid email address (extra text around the address)"),
        ("john@[10.0.0.1]", "not a valid email address (IP address domains are not accepted)"),
    ],
)  # fmt: skip
def test_email_errors_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalize_email(raw)
    assert (caught.value.kind, caught.value.reason) == ("email", reason)


# --- phone -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["06 12 34 56 78", "06.12.34.56.78", "+33 6 12 34 56 78", "0033612345678"]
)
def test_french_mobile_gives_e164(raw: str) -> None:
    assert normalize_phone(raw, "FR") == "+33612345678"


def test_us_number_gives_e164_whatever_the_default_region() -> None:
    assert normalize_phone("(650) 253-0000", "US") == "+16502530000"
    assert normalize_phone("+1 650-253-0000", "FR") == "+16502530000"
    assert normalize_identifier("phone", "+1 650 253 0000", default_region=None) == "+16502530000"


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("06 12 34 56 78", None, "needs a country code (+...) or a default region"),
        ("call me maybe", "FR", "not a phone number"),
        ("+33 6", "FR", "not a phone number"),
        ("06 12 34 56", "FR", "not a valid number for its region"),
    ],
)
def test_phone_errors_say_why(raw: str, region: str | None, reason: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalize_phone(raw, region)
    assert (caught.value.kind, caught.value.reason) == ("phone", reason)


# --- opaque identifiers and dispatch -----------------------------------------------------------


@pytest.mark.parametrize("kind", OPAQUE_KINDS)
def test_opaque_ids_are_trimmed_and_keep_their_case(kind: IdentifierKind) -> None:
    assert normalize_identifier(kind, "  AbC-0012\t", default_region="FR") == "AbC-0012"
    assert normalize_identifier(kind.value, "xy" * 128, default_region=None) == "xy" * 128


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("x" * 257, "longer than 256 characters"),
        ("cust\x00123", "contains control or invisible characters"),
        ("cust\u200b123", "contains control or invisible characters"),
    ],
)
def test_opaque_ids_reject_garbage(value: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason) as caught:
        normalize_identifier(IdentifierKind.CRM_ID, value, default_region=None)
    assert caught.value.kind == "crm_id"


def test_unknown_kind_is_an_invalid_identifier() -> None:
    with pytest.raises(InvalidIdentifier, match="unknown identifier kind"):
        normalize_identifier("fax", "12345", default_region=None)


# --- junk --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(IdentifierKind))
@pytest.mark.parametrize("value", JUNK)
def test_junk_is_rejected_for_every_kind(kind: IdentifierKind, value: str) -> None:
    assert is_junk(value)
    with pytest.raises(InvalidIdentifier) as caught:
        normalize_identifier(kind, value, default_region="FR")
    assert (caught.value.kind, caught.value.reason) == (kind.value, PLACEHOLDER)


@pytest.mark.parametrize("value", ["john@example.com", "+33612345678", "00001", "testing", "10"])
def test_real_values_are_not_junk(value: str) -> None:
    assert not is_junk(value)


# --- errors carry no personal data -------------------------------------------------------------


def test_invalid_identifier_shape() -> None:
    err = InvalidIdentifier(IdentifierKind.PHONE, "not a phone number")
    assert isinstance(err, ValueError)
    assert (err.kind, err.reason, str(err)) == (
        "phone",
        "not a phone number",
        "phone: not a phone number",
    )
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.kind, copy.reason, str(copy)) == (err.kind, err.reason, str(err))


LEAKY_INPUTS = [
    ("email", "marie.curie@@sorbonne-paris.fr", None),
    ("email", "marie curie@sorbonne-paris.fr", None),
    ("email", "marie.curie@sorbonne_paris.fr", None),
    ("email", "marie,curie@sorbonne-paris.fr", None),
    ("email", "marie.curie@sorbonne!paris.fr", None),
    ("email", "marie.curie@sorbonne☃paris.fr", None),
    ("email", "marie.curie@sorbonne·paris.fr", None),
    ("email", '"marie"curie@sorbonne-paris.fr', None),
    ("email", '"marie.curie"@sorbonne-paris.fr', None),
    ("email", "Marie Curie <marie.curie@sorbonne-paris.fr>", None),
    ("email", "marie.curie@sorbonne-paris.test", None),
    ("email", "marie.curie@sorbonne-paris", None),
    ("email", "marie.curie@[192.168.12.34]", None),
    ("email", "marie.curie@-sorbonne.fr", None),
    ("email", "marie.curie" * 30 + "@sorbonne-paris.fr", None),
    ("phone", "06 12 34 56 78", None),
    ("phone", "06 12 34 56", "FR"),
    ("phone", "marie 0612", "FR"),
    ("crm_id", "marie-curie-" * 30, None),
    ("site_cookie", "marie\x07curie", None),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "value", "region"), LEAKY_INPUTS)
def test_error_messages_never_contain_the_input(kind: str, value: str, region: str | None) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalize_identifier(kind, value, default_region=region)
    err = caught.value
    # What a logger would print: the message, the repr and the whole traceback with its chain.
    printed = "\n".join([str(err), repr(err), *traceback.format_exception(err)])
    pieces = {value, value.strip(), *value.replace("@", " ").replace("<", " ").split()}
    for piece in {p.strip('"<>[]') for p in pieces}:
        if len(piece) >= 3:
            assert piece not in printed
    for fragment in ("marie", "curie", "sorbonne", "12 34", "0612"):
        assert fragment not in printed.casefold()
    assert err.reason in KNOWN_REASONS


# --- properties --------------------------------------------------------------------------------


def attempt(
    normalize: Callable[..., str], *args: object, **kwargs: object
) -> str | InvalidIdentifier:
    """Run a normaliser; return its refusal instead of raising it (any other error propagates)."""
    try:
        return normalize(*args, **kwargs)
    except InvalidIdentifier as err:
        return err


TOLERATED_EMAIL_REJECTIONS = {
    "not a valid email address (reserved domain)",
    "not a valid email address (too long)",
}


@given(st.emails())
@settings(max_examples=300)
def test_normalize_email_is_idempotent(address: str) -> None:
    once = attempt(normalize_email, address)
    if isinstance(once, InvalidIdentifier):
        # Hypothesis' grammar is looser than email_validator's only on domains and length.
        assert once.reason in TOLERATED_EMAIL_REJECTIONS
        reject()
    assert normalize_email(once) == once
    assert once == once.strip().lower()


@given(st.emails(), st.sampled_from(["", " ", "\t", "\n "]), st.sampled_from(["", " ", "\r\n"]))
def test_email_case_and_whitespace_never_change_the_value(
    address: str, left: str, right: str
) -> None:
    expected = attempt(normalize_email, address)
    if isinstance(expected, InvalidIdentifier):
        assert expected.reason in TOLERATED_EMAIL_REJECTIONS
        reject()
    assert normalize_email(left + address.swapcase() + right) == expected


NOISE = st.one_of(
    st.text(),
    st.emails(),
    st.from_regex(r"[+0-9 ().\-]{0,20}", fullmatch=True),
    st.sampled_from(JUNK),
)


@given(
    st.sampled_from([*IdentifierKind, "email", "fax"]),
    NOISE,
    st.sampled_from([None, "FR", "US", "GB", "XX", ""]),
)
@settings(max_examples=500)
def test_random_text_raises_nothing_but_invalid_identifier(
    kind: IdentifierKind | str, value: str, region: str | None
) -> None:
    result = attempt(normalize_identifier, kind, value, default_region=region)
    if isinstance(result, InvalidIdentifier):
        assert result.reason in KNOWN_REASONS
        assert str(result) == f"{result.kind}: {result.reason}"
    else:
        assert result == result.strip()
        assert result
        assert normalize_identifier(kind, result, default_region=region) == result


REGIONS = ["FR", "US", "GB", "DE", "JP", "BR", "IN", "AU"]
TYPES = [phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE]
FORMATS = [
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.NATIONAL,
    phonenumbers.PhoneNumberFormat.RFC3966,
]


@given(
    st.sampled_from(REGIONS),
    st.sampled_from(TYPES),
    st.sampled_from(FORMATS),
    st.sampled_from([None, *REGIONS]),
)
def test_phone_normalisation_is_idempotent(
    region: str, number_type: int, written_as: int, read_as: str | None
) -> None:
    number = phonenumbers.example_number_for_type(region, number_type)
    assert number is not None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    text = phonenumbers.format_number(number, written_as)
    assert normalize_phone(text, region) == e164
    # Once in E.164 the default region no longer matters.
    assert normalize_phone(e164, read_as) == e164
    assert normalize_phone(normalize_phone(text, region), read_as) == e164
