"""Free-form customer attributes ("interests", "loyalty_tier"...), sealed in the vault.

Sources send attributes the core has no column for; audiences select on them ("interested in
cycling"). Their values may well be personal (a birthday, a city), so they are stored like the
other personal fields: one JSON document per customer, encrypted with the customer's data key,
shredded with it on erasure. A source's update merges into what is stored (a ``null`` value
removes the attribute), so two sources each owning some attributes do not erase each other's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from hub.events.store import data_keys
from hub.identity.vault import Vault
from hub.storage.db import chunks
from hub.storage.models import VaultEntry, table
from hub.storage.types import utcnow
from hub.sync.feed import touch_customers

__all__ = [
    "ATTRIBUTES_FIELD",
    "MAX_ATTRIBUTES",
    "AttributeProblem",
    "check_attributes",
    "read_attributes",
    "write_attributes",
]

#: The vault entry holding the document (never a ``CustomerField``: bricks never receive it).
ATTRIBUTES_FIELD = "attributes"
MAX_ATTRIBUTES = 64
_MAX_TEXT = 1024
_MAX_LIST = 100
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

Scalar = str | int | float | bool


class AttributeProblem(ValueError):
    """An attribute that cannot be stored; ``field`` is its dotted path (never its value)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _check_scalar(path: str, value: Any) -> Scalar:
    if isinstance(value, bool | int | float):
        if isinstance(value, float) and value != value:  # NaN cannot be compared or stored
            raise AttributeProblem(path, "must be a number, not NaN")
        return value
    if isinstance(value, str):
        if len(value) > _MAX_TEXT:
            raise AttributeProblem(path, f"text longer than {_MAX_TEXT} characters")
        return value
    raise AttributeProblem(path, "must be text, a number, true/false or a list of those")


def check_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Validated copy; raises ``AttributeProblem`` naming ``attributes.<name>``."""
    if len(attributes) > MAX_ATTRIBUTES:
        raise AttributeProblem("attributes", f"more than {MAX_ATTRIBUTES} attributes")
    checked: dict[str, Any] = {}
    for name, value in attributes.items():
        path = f"attributes.{name}"
        if not _NAME.fullmatch(name):
            raise AttributeProblem(path, "names are lower snake case, e.g. loyalty_tier")
        if value is None:
            checked[name] = None
        elif isinstance(value, list | tuple):
            if len(value) > _MAX_LIST:
                raise AttributeProblem(path, f"more than {_MAX_LIST} values")
            checked[name] = [_check_scalar(f"{path}.{i}", item) for i, item in enumerate(value)]
        else:
            checked[name] = _check_scalar(path, value)
    return checked


def _open_documents(
    session: Session, vault: Vault, customer_ids: Sequence[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, bytes]]:
    ids = sorted(set(customer_ids))
    keys = data_keys(session, vault, ids)
    documents: dict[str, dict[str, Any]] = {}
    for chunk in chunks(ids):
        for entry in session.exec(
            select(VaultEntry).where(
                col(VaultEntry.customer_id).in_(chunk), VaultEntry.field == ATTRIBUTES_FIELD
            )
        ):
            key = keys.get(entry.customer_id)
            if key is not None:
                plain = vault.decrypt_field(
                    key, entry.customer_id, ATTRIBUTES_FIELD, entry.ciphertext
                )
                documents[entry.customer_id] = json.loads(plain)
    return documents, keys


def read_attributes(
    session: Session, vault: Vault, customer_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Each customer's attributes (``{}`` when none, or when erased)."""
    documents, _ = _open_documents(session, vault, customer_ids)
    return {c: documents.get(c, {}) for c in sorted(set(customer_ids))}


def write_attributes(
    session: Session,
    vault: Vault,
    updates: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    now: datetime | None = None,
) -> list[bool]:
    """Merge checked attribute updates into each customer's document; one flag per update:
    did anything change. Several updates of one customer apply in order."""
    now = now or utcnow()
    wanted = [customer for customer, changes in updates if changes]
    documents, keys = _open_documents(session, vault, wanted)
    existed = set(documents)
    dirty: set[str] = set()
    changed: list[bool] = []
    for customer_id, changes in updates:
        document = documents.setdefault(customer_id, {})
        before = dict(document)
        for name, value in changes.items():
            if value is None:
                document.pop(name, None)
            else:
                document[name] = value
        changed.append(document != before)
        if document != before:
            dirty.add(customer_id)
    inserts, rewrites = [], []
    for customer_id in sorted(dirty):
        key = keys.get(customer_id)
        if key is None:
            continue  # erased meanwhile: nothing may be written for them
        plain = json.dumps(documents[customer_id], sort_keys=True, separators=(",", ":"))
        row = {
            "customer_id": customer_id,
            "field": ATTRIBUTES_FIELD,
            "ciphertext": vault.encrypt_field(key, customer_id, ATTRIBUTES_FIELD, plain),
            "updated_at": now,
        }
        (rewrites if customer_id in existed else inserts).append(row)
    if inserts:
        session.execute(table(VaultEntry).insert(), inserts)
    if rewrites:
        session.execute(update(VaultEntry), rewrites)
    # Attributes live in the vault, not on the customer row: mark them changed for the feed.
    touch_customers(session, [str(row["customer_id"]) for row in inserts + rewrites], now)
    return changed
