"""``hub contacts import``: CSV or JSON Lines files of people into the vault.

Each row is applied in its own savepoint: a bad row is rolled back, dead-lettered with its line
number, field and reason, and the rest of the file goes on. Nothing is dropped silently.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine

from contracts import Channel, Consent, ConsentStatus, Contact, Identifier, IdentifierKind
from hub.contacts.apply import ContactRejected, apply_contact
from hub.dead_letters import store_dead_letter
from hub.identity.service import IdentityService
from hub.identity.vault import Vault
from hub.storage.db import session_scope
from hub.storage.types import utcnow

__all__ = [
    "KNOWN_COLUMNS",
    "ImportFileError",
    "ImportReport",
    "RejectedRow",
    "import_contacts",
]

_IDENTIFIER_COLUMNS = {
    "email": IdentifierKind.EMAIL,
    "phone": IdentifierKind.PHONE,
    "shop_customer_id": IdentifierKind.SHOP_CUSTOMER_ID,
    "crm_id": IdentifierKind.CRM_ID,
}
_PROFILE_COLUMNS = ("first_name", "last_name", "locale", "time_zone")
_CONSENT_COLUMNS = {f"consent_{c.value}": c for c in Channel}
_CONSENT_META = ("consent_recorded_at", "consent_wording_version")
KNOWN_COLUMNS: tuple[str, ...] = (
    *_IDENTIFIER_COLUMNS,
    *_PROFILE_COLUMNS,
    *_CONSENT_COLUMNS,
    *_CONSENT_META,
)

_GRANTED = {"yes", "y", "true", "1", "granted", "opt-in", "optin", "subscribed"}
_DENIED = {"no", "n", "false", "0", "denied", "opt-out", "optout", "unsubscribed"}
_BATCH = 500


class ImportFileError(Exception):
    """The file as a whole cannot be imported (unreadable, unknown columns, wrong format)."""


@dataclass(frozen=True)
class RejectedRow:
    line: int
    field: str
    reason: str
    dead_letter_id: int


@dataclass
class ImportReport:
    source: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged + len(self.rejected)


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line number, row or None if unparsable, raw text for the dead letter)."""
    suffix = path.suffix.lower()
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot read ({exc.strerror})") from None
    with handle:
        if suffix == ".csv":
            reader = csv.DictReader(handle)
            header = [h.strip() for h in (reader.fieldnames or [])]
            _check_columns(header)
            reader.fieldnames = header
            line = reader.line_num
            for row in reader:
                yield line + 1, {k: v for k, v in row.items() if k is not None}, ""
                line = reader.line_num
        elif suffix in (".jsonl", ".ndjson"):
            for number, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    row = json.loads(text)
                except json.JSONDecodeError:
                    yield number, None, text
                    continue
                yield number, row if isinstance(row, dict) else None, text
        else:
            raise ImportFileError(f"{path}: unsupported format {suffix!r} (use .csv or .jsonl)")


def _check_columns(columns: list[str]) -> None:
    unknown = [c for c in columns if c not in KNOWN_COLUMNS]
    if unknown:
        raise ImportFileError(
            f"unknown column(s) {', '.join(map(repr, unknown))}; known: {', '.join(KNOWN_COLUMNS)}"
        )
    if not set(columns) & set(_IDENTIFIER_COLUMNS):
        raise ImportFileError(f"no identifier column: add one of {', '.join(_IDENTIFIER_COLUMNS)}")


def _text(row: dict[str, Any], key: str) -> str | None:
    value = row.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int | float):
        raise ContactRejected(key, "must be text")
    value = str(value).strip()
    return value or None


def _consents(row: dict[str, Any], source: str, now: datetime) -> list[Consent]:
    recorded_at = now
    stamp = _text(row, "consent_recorded_at")
    if stamp:
        try:
            recorded_at = datetime.fromisoformat(stamp)
        except ValueError:
            raise ContactRejected("consent_recorded_at", "not an ISO 8601 timestamp") from None
        if recorded_at.tzinfo is None:
            raise ContactRejected("consent_recorded_at", "needs a time zone offset")
        if recorded_at > now:
            raise ContactRejected("consent_recorded_at", "is in the future")
    consents = []
    for column, channel in _CONSENT_COLUMNS.items():
        value = _text(row, column)
        if value is None:
            continue
        word = value.lower()
        if word in _GRANTED:
            status = ConsentStatus.GRANTED
        elif word in _DENIED:
            status = ConsentStatus.DENIED
        else:
            raise ContactRejected(column, "use yes/no (or granted/denied, opt-in/opt-out)")
        consents.append(
            Consent(
                channel=channel,
                status=status,
                source=source,
                wording_version=_text(row, "consent_wording_version"),
                recorded_at=recorded_at,
            )
        )
    return consents


def row_to_contact(row: dict[str, Any], source: str, now: datetime) -> Contact:
    """Map a flat row onto the ``Contact`` contract; raises ``ContactRejected``."""
    unknown = [k for k in row if k not in KNOWN_COLUMNS]
    if unknown:
        raise ContactRejected(unknown[0], "unknown column")
    identifiers = [
        Identifier(kind=kind, value=value, verified=False)
        for column, kind in _IDENTIFIER_COLUMNS.items()
        if (value := _text(row, column)) is not None
    ]
    if not identifiers:
        raise ContactRejected("email", f"row has no identifier ({', '.join(_IDENTIFIER_COLUMNS)})")
    try:
        return Contact(
            identifiers=identifiers,
            first_name=_text(row, "first_name"),
            last_name=_text(row, "last_name"),
            locale=_text(row, "locale"),
            time_zone=_text(row, "time_zone"),
            consents=_consents(row, source, now),
        )
    except ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        loc = ".".join(str(p) for p in first["loc"]) or "row"
        raise ContactRejected(loc, first["msg"]) from None


def import_contacts(
    engine: Engine,
    identity: IdentityService,
    vault: Vault,
    path: Path,
    *,
    source: str,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    report = ImportReport(source=source)
    rows = _rows(path)
    done = False
    while not done:
        with session_scope(engine) as session:
            for count, (line, row, raw) in enumerate(rows, start=1):
                now = utcnow()
                try:
                    if row is None:
                        raise ContactRejected("line", "not a JSON object")
                    contact = row_to_contact(row, source, now)
                    with session.begin_nested():
                        applied = apply_contact(session, identity, contact, source=source, now=now)
                    setattr(report, applied.status, getattr(report, applied.status) + 1)
                except ContactRejected as exc:
                    letter = store_dead_letter(
                        session,
                        vault,
                        kind="import_row",
                        source=source,
                        reference=f"{path.name}:{line}",
                        field=exc.field,
                        reason=exc.reason,
                        payload=row if row is not None else raw,
                    )
                    report.rejected.append(RejectedRow(line, exc.field, exc.reason, letter.id or 0))
                if progress:
                    progress(1)
                if count % _BATCH == 0:
                    break
            else:
                done = True
    return report
