"""Profile fields: personal ones encrypted in the vault, the rest on the customer row.

Reads and writes are set-based: a batch of customers costs a handful of queries, and a write
touches only fields whose value really changed (so "unchanged" can be reported honestly and
re-imports do not churn ciphertexts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from contracts import PII_FIELDS, CustomerField
from hub.identity.vault import Vault
from hub.storage.db import chunks
from hub.storage.models import Customer, CustomerKey, VaultEntry, table
from hub.storage.types import utcnow

__all__ = ["ProfileStore"]


class ProfileStore:
    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    def data_keys(self, session: Session, customer_ids: Sequence[str]) -> dict[str, bytes]:
        """The customers' unwrapped data keys; an erased customer (key destroyed) has none."""
        return self._data_keys(session, customer_ids)

    def _data_keys(self, session: Session, customer_ids: Sequence[str]) -> dict[str, bytes]:
        keys: dict[str, bytes] = {}
        for chunk in chunks(customer_ids):
            for row in session.exec(
                select(CustomerKey)
                .where(col(CustomerKey.customer_id).in_(chunk))
                .execution_options(populate_existing=True)
            ):
                keys[row.customer_id] = self.vault.unwrap(row.customer_id, row.wrapped_key)
        return keys

    def read_profiles(
        self, session: Session, customer_ids: Sequence[str], fields: Iterable[CustomerField]
    ) -> dict[str, dict[CustomerField, str]]:
        """Decrypt the requested fields that are set, per customer. Callers decide who sees."""
        wanted = set(fields)
        ids = sorted(set(customer_ids))
        profiles: dict[str, dict[CustomerField, str]] = {c: {} for c in ids}
        plain = sorted(wanted - PII_FIELDS)
        pii = sorted(f.value for f in wanted & PII_FIELDS)
        for chunk in chunks(ids):
            found = set()
            # populate_existing: bulk UPDATEs bypass the identity map, so never trust it here.
            for customer in session.exec(
                select(Customer)
                .where(col(Customer.id).in_(chunk))
                .execution_options(populate_existing=True)
            ):
                found.add(customer.id)
                for field in plain:
                    value = getattr(customer, field.value)
                    if value is not None:
                        profiles[customer.id][field] = value
            missing = set(chunk) - found
            if missing:
                raise LookupError(f"unknown customer(s): {len(missing)}")
            if not pii:
                continue
            entries = list(
                session.exec(
                    select(VaultEntry)
                    .where(col(VaultEntry.customer_id).in_(chunk), col(VaultEntry.field).in_(pii))
                    .execution_options(populate_existing=True)
                )
            )
            keys = self._data_keys(session, sorted({e.customer_id for e in entries}))
            for entry in entries:
                if entry.customer_id not in keys:
                    continue  # erased: the data key is gone, the ciphertext is noise
                profiles[entry.customer_id][CustomerField(entry.field)] = self.vault.decrypt_field(
                    keys[entry.customer_id], entry.customer_id, entry.field, entry.ciphertext
                )
        return profiles

    def read_profile(
        self, session: Session, customer_id: str, fields: Iterable[CustomerField]
    ) -> dict[CustomerField, str]:
        return self.read_profiles(session, [customer_id], fields)[customer_id]

    def write_profiles(
        self,
        session: Session,
        updates: Sequence[tuple[str, Mapping[CustomerField, str | None]]],
        *,
        now: datetime | None = None,
    ) -> list[list[CustomerField]]:
        """Apply updates in order (``None`` = leave as is); returns the changed fields of each.

        Several updates for one customer see each other, as if applied one by one.
        """
        now = now or utcnow()
        fields = {f for _, values in updates for f in values}
        current = self.read_profiles(session, [c for c, _ in updates], fields)
        stored_pii = {(c, f) for c, profile in current.items() for f in profile if f in PII_FIELDS}
        changed_all: list[list[CustomerField]] = []
        pii_writes: dict[tuple[str, str], str] = {}
        plain_writes: dict[str, dict[str, object]] = {}
        for customer_id, values in updates:
            state = current[customer_id]
            changed = [f for f, v in values.items() if v is not None and state.get(f) != v]
            for field in changed:
                value = values[field]
                assert value is not None
                state[field] = value
                if field in PII_FIELDS:
                    pii_writes[(customer_id, field.value)] = value
                else:
                    plain_writes.setdefault(customer_id, {})[field.value] = value
            if changed:
                plain_writes.setdefault(customer_id, {})["updated_at"] = now
            changed_all.append(changed)
        self._store(session, pii_writes, plain_writes, stored_pii, now)
        return changed_all

    def _store(
        self,
        session: Session,
        pii_writes: dict[tuple[str, str], str],
        plain_writes: dict[str, dict[str, object]],
        stored_pii: set[tuple[str, CustomerField]],
        now: datetime,
    ) -> None:
        if pii_writes:
            keys = self._data_keys(session, sorted({c for c, _ in pii_writes}))
            new_rows, changed_rows = [], []
            for (customer_id, field), value in pii_writes.items():
                row = {
                    "customer_id": customer_id,
                    "field": field,
                    "ciphertext": self.vault.encrypt_field(
                        keys[customer_id], customer_id, field, value
                    ),
                    "updated_at": now,
                }
                exists = (customer_id, CustomerField(field)) in stored_pii
                (changed_rows if exists else new_rows).append(row)
            if new_rows:
                session.execute(table(VaultEntry).insert(), new_rows)
            if changed_rows:
                session.execute(update(VaultEntry), changed_rows)
        if plain_writes:
            session.execute(
                update(Customer), [{"id": c, **values} for c, values in plain_writes.items()]
            )

    def write_profile(
        self,
        session: Session,
        customer_id: str,
        values: Mapping[CustomerField, str | None],
        *,
        now: datetime | None = None,
    ) -> list[CustomerField]:
        return self.write_profiles(session, [(customer_id, values)], now=now)[0]
