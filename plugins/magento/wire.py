"""Reading Magento's values strictly: timestamps, ids, amounts, JSON bodies, error bodies.

The brick's cursor is built from timestamps and ids found in Magento's answers, so a value it
cannot read exactly must stop the poll with the field's name (``PayloadRejected``) rather than
be guessed: a wrong position skips or repeats records. Amounts are kept as ``Decimal`` from
the JSON text on, so ``19.99`` never becomes ``19.989999``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from contracts import PayloadRejected, Permanent
from hub.sdk.http import VendorError

__all__ = [
    "MAGENTO_TIME",
    "describe_error",
    "format_time",
    "json_body",
    "parse_amount",
    "parse_id",
    "parse_time",
]

#: Magento's timestamps: ``2026-01-15 10:00:00``, UTC, no zone written.
MAGENTO_TIME = "%Y-%m-%d %H:%M:%S"
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_PLACEHOLDER = re.compile(r"%(\w+)")


def parse_time(value: Any, field: str, what: str) -> datetime:
    """A Magento timestamp as an aware UTC datetime; ``PayloadRejected`` naming ``field``.

    ``what`` says which record it came from (``cart 42``): ids are not personal data, the
    value itself is never repeated.
    """
    if isinstance(value, str) and _TIME.match(value):
        try:
            return datetime.strptime(value, MAGENTO_TIME).replace(tzinfo=UTC)
        except ValueError:
            pass
    raise PayloadRejected(
        f"{what}: {field} is not a Magento timestamp (YYYY-MM-DD HH:MM:SS, UTC)", field=field
    )


def format_time(moment: datetime) -> str:
    """``moment`` as Magento writes and compares timestamps (UTC, whole seconds)."""
    return moment.astimezone(UTC).strftime(MAGENTO_TIME)


def parse_id(value: Any, field: str, what: str) -> int:
    """A positive entity id (Magento sends integers; digit strings are accepted too)."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and value > 0:
        return value
    raise PayloadRejected(f"{what}: {field} is not a positive integer id", field=field)


def parse_amount(value: Any) -> Decimal | None:
    """A price or quantity as ``Decimal``; ``None`` when absent or not a number."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def json_body(response: httpx.Response, what: str) -> Any:
    """The JSON of a 2xx answer, floats as ``Decimal``.

    A 2xx that is not JSON is a storefront or proxy page, not the REST API: retrying cannot
    help, the base URL is wrong.
    """
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        raise Permanent(
            f"{what}: Magento answered HTTP {response.status_code} without JSON; check that "
            "base_url is the store's REST root (https://<shop>/rest/<store code>)"
        ) from None


def _parameters(raw: Any) -> dict[str, str]:
    """Magento's ``parameters``: a list (``%1``, ``%2``...), a map (``%fieldName``), or the
    spec's list of maps; ``fieldValue`` is never rendered (it may be a customer's data)."""
    found: dict[str, str] = {}
    if isinstance(raw, dict):
        found.update({str(k): str(v) for k, v in raw.items()})
    elif isinstance(raw, list):
        for index, item in enumerate(raw, 1):
            if isinstance(item, dict):
                found.update({str(k): str(v) for k, v in item.items()})
            else:
                found[str(index)] = str(item)
    if "fieldValue" in found:
        found["fieldValue"] = "<value>"
    return found


def describe_error(response: httpx.Response) -> VendorError:
    """Magento's error body (``message`` with ``%name`` placeholders, ``parameters``) rendered
    as one line; ``field`` is the ``fieldName`` parameter when Magento names one.

    ``hub.sdk.http`` scrubs email addresses and phone numbers from the result.
    """
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return (response.reason_phrase or f"HTTP {response.status_code}", None, None)
    parameters = _parameters(body.get("parameters"))
    message = _PLACEHOLDER.sub(lambda m: parameters.get(m.group(1), m.group(0)), body["message"])
    code = body.get("code")
    vendor_code = str(code) if isinstance(code, int | str) and not isinstance(code, bool) else None
    return (message, vendor_code, parameters.get("fieldName"))
