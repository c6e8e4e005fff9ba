"""``hub contacts import``: CSV or JSON Lines files of people into the vault.

Each row is applied in its own savepoint: a bad row is rolled back, dead-lettered with its line
number, field and reason, and the rest of the file goes on. Nothing is dropped silently.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from contracts import Channel, Consent, ConsentStatus, Contact, Identifier, IdentifierKind
from hub.contacts.apply import ContactRejected, apply_contacts
from hub.dead_letters import store_dead_letter
from hub.identity.service import IdentityService
from hub.identity.vault import Vault
from hub.records import Record, RecordFileError, read_records
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
    "attributes",
)
#: ``attr.interests`` (CSV) sets the attribute ``interests``; JSON lines may instead carry an
#: ``attributes`` object, whose values may be lists.
ATTRIBUTE_PREFIX = "attr."


def _known(column: str) -> bool:
    return column in KNOWN_COLUMNS or (
        column.startswith(ATTRIBUTE_PREFIX) and len(column) > len(ATTRIBUTE_PREFIX)
    )


_GRANTED = {"yes", "y", "true", "1", "granted", "opt-in", "optin", "subscribed"}
_DENIED = {"no", "n", "false", "0", "denied", "opt-out", "optout", "unsubscribed"}
_BATCH = 500


class ImportFileError(RecordFileError):
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
    #: Rows naming an erased person's contact point: kept out (docs/privacy-rights.md).
    suppressed: int = 0

    @property
    def total(self) -> int:
        return (
            self.created + self.updated + self.unchanged + self.suppressed + len(self.rejected)
        )


def _check_columns(columns: list[str]) -> None:
    unknown = [c for c in columns if not _known(c)]
    if unknown:
        raise ImportFileError(
            f"unknown column(s) {', '.join(map(repr, unknown))}; known: "
            f"{', '.join(KNOWN_COLUMNS)}, {ATTRIBUTE_PREFIX}<name>"
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
    unknown = [k for k in row if not _known(k)]
    if unknown:
        raise ContactRejected(unknown[0], "unknown column")
    attributes = row.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise ContactRejected("attributes", "must be an object of name: value")
    attributes = dict(attributes)
    for column, value in row.items():
        if column.startswith(ATTRIBUTE_PREFIX) and value not in (None, ""):
            attributes[column.removeprefix(ATTRIBUTE_PREFIX)] = value
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
            attributes=attributes,
        )
    except ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        loc = ".".join(str(p) for p in first["loc"]) or "row"
        raise ContactRejected(loc, first["msg"]) from None


def _process_batch(
    engine: Engine,
    identity: IdentityService,
    vault: Vault,
    batch: list[Record],
    *,
    path: Path,
    source: str,
    report: ImportReport,
) -> None:
    """Parse, apply and dead-letter one batch in one transaction."""
    now = utcnow()
    parsed: list[tuple[int, Contact]] = []
    rejected: list[tuple[int, Any, ContactRejected]] = []
    for record in batch:
        try:
            if record.fields is None:
                raise ContactRejected("line", record.problem or "unreadable record")
            parsed.append((record.line, row_to_contact(record.fields, source, now)))
        except ContactRejected as exc:
            rejected.append((record.line, record.fields or record.raw, exc))
    rows = {record.line: record.fields for record in batch}
    with session_scope(engine) as session:
        results = apply_contacts(session, identity, [c for _, c in parsed], source=source, now=now)
        for (line, _), result in zip(parsed, results, strict=True):
            if isinstance(result, ContactRejected):
                rejected.append((line, rows[line], result))
            elif result.suppressed:
                report.suppressed += 1
            else:
                setattr(report, result.status, getattr(report, result.status) + 1)
        for line, payload, exc in sorted(rejected, key=lambda item: item[0]):
            letter = store_dead_letter(
                session,
                vault,
                kind="import_row",
                source=source,
                reference=f"{path.name}:{line}",
                field=exc.field,
                reason=exc.reason,
                payload=payload,
            )
            report.rejected.append(RejectedRow(line, exc.field, exc.reason, letter.id or 0))


def import_contacts(
    engine: Engine,
    identity: IdentityService,
    vault: Vault,
    path: Path,
    *,
    source: str,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a file in batches of 500 rows, one transaction each.

    A batch that collides with a concurrent writer (the same new person created by another
    process at the same moment) is retried once: the retry sees the other writer's customer.
    """
    report = ImportReport(source=source)
    rows = read_records(path, check_header=_check_columns)
    while True:
        batch = list(itertools.islice(rows, _BATCH))
        if not batch:
            return report
        try:
            _process_batch(engine, identity, vault, batch, path=path, source=source, report=report)
        except IntegrityError:
            _process_batch(engine, identity, vault, batch, path=path, source=source, report=report)
        if progress:
            progress(len(batch))
