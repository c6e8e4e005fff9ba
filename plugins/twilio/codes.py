"""Twilio error codes the hub acts on, and the contract outcome each one means.

Twilio reports the same codes in two places: synchronously, in the error body of a refused
``POST .../Messages.json`` (``{"code": 21610, ...}``, raised as ``PayloadRejected`` with
``vendor_code="21610"``), and asynchronously, as ``ErrorCode`` in an ``undelivered`` / ``failed``
status callback. ``outcome_for_error_code`` is the one table both paths use, so the core can turn a
refused send into the same outcome a callback would have produced.

Only codes that say something about the *person's* number are mapped; everything else (account,
sender, content, carrier filtering) is a plain ``FAILED``: a configuration problem of ours must
never revoke a customer's consent.
"""

from __future__ import annotations

from contracts import OutcomeType

__all__ = [
    "BOUNCED_HARD_CODES",
    "BOUNCED_SOFT_CODES",
    "INVALID_PHONE_CODES",
    "RATE_LIMIT_CODE",
    "UNSUBSCRIBED_CODES",
    "outcome_for_error_code",
]

#: 21610 "Attempt to send to unsubscribed recipient": the person replied STOP to this sender.
UNSUBSCRIBED_CODES: frozenset[str] = frozenset({"21610"})

#: The ``To`` number itself is unusable: 21211 invalid 'To' number, 21614 'To' is not a mobile
#: number, 21635 'To' is a landline. Raised with ``field="phone"``.
INVALID_PHONE_CODES: frozenset[str] = frozenset({"21211", "21614", "21635"})

#: Delivery receipts saying the number can never receive SMS: 30005 unknown destination handset
#: (the number does not exist), 30006 landline or unreachable carrier; plus the invalid-'To' codes.
BOUNCED_HARD_CODES: frozenset[str] = frozenset({"30005", "30006"}) | INVALID_PHONE_CODES

#: 30003 unreachable destination handset: phone off or out of coverage, may work later.
BOUNCED_SOFT_CODES: frozenset[str] = frozenset({"30003"})

#: Twilio's "Too Many Requests" (HTTP 429): the request was not processed, safe to retry.
RATE_LIMIT_CODE = "20429"


def outcome_for_error_code(code: str | int | None) -> OutcomeType:
    """The outcome a failed message with this Twilio error code means (``FAILED`` by default)."""
    text = "" if code is None else str(code).strip()
    if text in UNSUBSCRIBED_CODES:
        return OutcomeType.UNSUBSCRIBED
    if text in BOUNCED_HARD_CODES:
        return OutcomeType.BOUNCED_HARD
    if text in BOUNCED_SOFT_CODES:
        return OutcomeType.BOUNCED_SOFT
    return OutcomeType.FAILED
