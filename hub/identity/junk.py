"""Placeholder values sources send instead of a real identifier.

A shop that writes ``"null"`` into the cookie column, a form that posts ``"undefined"``, a CRM
export with ``"0"`` for "no id": if any of those were digested like a real value, every guest
sending it would resolve to one customer, and their carts, consents and pressure would merge
into a stranger's. So they are refused for every identifier kind, before anything is digested.

What counts as junk (compared trimmed and case-folded):

* a fixed list of placeholders (``BUILTIN_JUNK``) plus ``[identity] junk_values``;
* a value made only of zeros and separators (``0000``, ``000-000``, a nil UUID);
* one character repeated: at least ``REPEATED_MIN`` times for a letter or sign (``xxx``,
  ``...``), at least ``REPEATED_DIGITS_MIN`` times for a digit (``11111111``). Short runs of
  one digit are left alone on purpose: shops number their customers, and ``1111`` or ``22222``
  are real customer ids in any shop that has that many customers.
"""

from __future__ import annotations

import re
from collections.abc import Set

__all__ = [
    "BUILTIN_JUNK",
    "PLACEHOLDER_REASON",
    "REPEATED_DIGITS_MIN",
    "REPEATED_MIN",
    "fold",
    "is_junk",
]

BUILTIN_JUNK = frozenset(
    {
        "", "null", "none", "nil", "undefined", "nan", "n/a", "na", "-", "0", "-1", "false",
        "true", "anonymous", "anon", "unknown", "guest", "test", "default", "[object object]",
    }
)  # fmt: skip
#: Only zeros and separators: "0000", "000-000", a nil UUID, "+00 000"...
_ZEROS_AND_SEPARATORS = re.compile(r"[0\s\-_.:/+()#*]*")
REPEATED_MIN = 3
REPEATED_DIGITS_MIN = 8
#: The one reason given for every kind: fixed text, so it can never carry the value.
PLACEHOLDER_REASON = "placeholder value is not an identifier"


def fold(value: str) -> str:
    """The form junk is compared in: trimmed and case-folded."""
    return value.strip().casefold()


def _one_character_repeated(folded: str) -> bool:
    if len(set(folded)) != 1:
        return False
    needed = REPEATED_DIGITS_MIN if folded[0].isdigit() else REPEATED_MIN
    return len(folded) >= needed


def is_junk(value: str, extra: Set[str] = frozenset()) -> bool:
    """Tell whether ``value`` is a placeholder a source sent instead of a real identifier.

    ``extra`` holds the installation's own placeholders (``[identity] junk_values``), already
    folded (``fold``).
    """
    folded = fold(value)
    if folded in BUILTIN_JUNK or folded in extra:
        return True
    if _ZEROS_AND_SEPARATORS.fullmatch(folded) is not None:
        return True
    return _one_character_repeated(folded)
