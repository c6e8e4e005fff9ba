"""Minimised views of many customers for one sink, built set-wise.

The batch counterpart of ``hub.egress.build_view`` (same rules: the sink's own pseudonym, only
the fields config allows it, the channels the person opted out of for marketing), shaped for
a sync of 100,000 people: a page of customers costs a handful of queries (vault entries, data
keys, marketing consents, what the sink holds), never a few queries per person. The egress
audit rows are written by the engine, one per contact actually handed to the sink, under the
batch's request id; building a view here writes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlmodel import Session

from contracts import PII_FIELDS, Channel, ConsentStatus, ContactView, CustomerField, Purpose
from hub.identity.keys import KeyRing
from hub.identity.vault import Vault, VaultError
from hub.storage.db import chunks
from hub.storage.models import ConsentEntry, CustomerKey, SinkContact, VaultEntry, table
from hub.sync.feed import FeedItem

__all__ = [
    "Built",
    "Held",
    "Sealed",
    "ViewMaker",
    "held_by_sink",
    "marketing_consents",
    "opted_out",
]

_VAULT = table(VaultEntry)
_KEYS = table(CustomerKey)
_CONSENTS = table(ConsentEntry)
_SINK_CONTACTS = table(SinkContact)
#: Field order inside a view digest and audit rows (changing it re-pushes everyone).
_FIELD_NAMES = tuple(f.value for f in CustomerField)
_DENIED = ConsentStatus.DENIED.value
_CHANNELS = {c.value: c for c in Channel}


@dataclass(frozen=True)
class Held:
    """What ``sink_contacts`` says the sink holds on one customer."""

    state: str
    view_digest: str | None
    #: Comma-separated field names (as stored).
    fields: str


def held_by_sink(session: Session, sink: str, customer_ids: Sequence[str]) -> dict[str, Held]:
    found: dict[str, Held] = {}
    columns = (
        _SINK_CONTACTS.c.customer_id,
        _SINK_CONTACTS.c.state,
        _SINK_CONTACTS.c.view_digest,
        _SINK_CONTACTS.c.fields,
    )
    for chunk in chunks(sorted(set(customer_ids))):
        rows = session.execute(
            select(*columns).where(
                _SINK_CONTACTS.c.sink == sink, _SINK_CONTACTS.c.customer_id.in_(chunk)
            )
        )
        for customer_id, state, digest, fields in rows.all():
            found[customer_id] = Held(state, digest, fields)
    return found


def marketing_consents(
    session: Session, customer_ids: Sequence[str]
) -> dict[str, dict[str, str]]:
    """The current marketing consent status per channel name (the latest statement by
    ``recorded_at``, then id: ``hub.consent.current_consents_many``'s order), without
    building an ORM object per consent row."""
    current: dict[str, dict[str, str]] = {c: {} for c in customer_ids}
    columns = (_CONSENTS.c.customer_id, _CONSENTS.c.channel, _CONSENTS.c.status)
    for chunk in chunks(sorted(set(customer_ids))):
        rows = session.execute(
            select(*columns)
            .where(_CONSENTS.c.customer_id.in_(chunk))
            .where(_CONSENTS.c.purpose == Purpose.MARKETING.value)
            .order_by(_CONSENTS.c.recorded_at, _CONSENTS.c.id)
        ).all()
        for customer_id, channel, status in rows:
            current[customer_id][channel] = status
    return current


def opted_out(statuses: dict[str, str]) -> frozenset[Channel]:
    """``hub.egress.opted_out_channels`` on pre-read statuses: denied channels only."""
    return frozenset(_CHANNELS[c] for c, s in statuses.items() if s == _DENIED)


@dataclass
class Sealed:
    """Personal fields as stored: wrapped data keys and ciphertexts."""

    wrapped: dict[str, bytes]
    entries: list[Any]


class Built(NamedTuple):
    view: ContactView
    #: Field names the view carries (what the egress audit row lists).
    fields: tuple[str, ...]
    digest: str


class ViewMaker:
    """Builds one sink's views: pseudonyms from the sink's key (derived once, not per person),
    personal fields decrypted in bulk, and a keyed digest of each view."""

    def __init__(
        self, keys: KeyRing, vault: Vault, sink: str, fields: Iterable[CustomerField]
    ) -> None:
        self.sink = sink
        self.fields = frozenset(fields)
        self._pii = sorted(f.value for f in self.fields & PII_FIELDS)
        self._vault = vault
        self._brick_key = keys.brick_key(sink)
        # Keyed, so a digest cannot be used to confirm a guessed email offline.
        self._digest_key = keys.system_key("sync view digest")

    def pseudonym(self, customer_id: str) -> str:
        """``KeyRing.pseudonym`` with the sink's key derived once (a test pins them equal)."""
        mac = hmac.new(self._brick_key, customer_id.encode("ascii"), hashlib.sha256)
        return "ps_" + base64.b32encode(mac.digest()[:20]).decode("ascii").lower()

    def fetch(self, session: Session, customer_ids: Sequence[str]) -> Sealed:
        """The sealed personal fields and wrapped data keys of ``customer_ids`` (two queries
        per chunk); opened later, outside the transaction."""
        sealed = Sealed({}, [])
        if not self._pii:
            return sealed
        for chunk in chunks(sorted(set(customer_ids))):
            sealed.wrapped.update(
                session.execute(
                    select(_KEYS.c.customer_id, _KEYS.c.wrapped_key).where(
                        _KEYS.c.customer_id.in_(chunk)
                    )
                ).all()
            )
            sealed.entries.extend(
                session.execute(
                    select(_VAULT.c.customer_id, _VAULT.c.field, _VAULT.c.ciphertext).where(
                        _VAULT.c.customer_id.in_(chunk), _VAULT.c.field.in_(self._pii)
                    )
                ).all()
            )
        return sealed

    def _personal(self, customer_ids: Sequence[str], sealed: Sealed) -> dict[str, dict[str, str]]:
        values: dict[str, dict[str, str]] = {c: {} for c in customer_ids}
        for customer_id, field, ciphertext in sealed.entries:
            blob = sealed.wrapped.get(customer_id)
            if blob is None or customer_id not in values:
                continue  # erased: the data key is gone, the ciphertext is noise
            try:
                key = self._vault.unwrap(customer_id, blob)
                values[customer_id][field] = self._vault.decrypt_field(
                    key, customer_id, field, ciphertext
                )
            except VaultError:
                continue  # unreadable (key rotated away): never sent, never guessed
        return values

    def views(
        self,
        items: Sequence[FeedItem],
        consents: dict[str, dict[str, str]],
        sealed: Sealed,
    ) -> dict[str, Built]:
        """The sink's view of each customer in ``items``, its field names and its digest
        (CPU only: ``sealed`` was read by ``fetch``)."""
        personal = self._personal([item.customer_id for item in items], sealed)
        with_locale = CustomerField.LOCALE in self.fields
        with_zone = CustomerField.TIME_ZONE in self.fields
        built: dict[str, Built] = {}
        for item in items:
            values = personal[item.customer_id]
            if with_locale and item.locale is not None:
                values["locale"] = item.locale
            if with_zone and item.time_zone is not None:
                values["time_zone"] = item.time_zone
            out = opted_out(consents.get(item.customer_id, {}))
            pseudonym = self.pseudonym(item.customer_id)
            # Values come from the vault, normalised when they were stored: validating 100,000
            # views again would cost more than building them (a test pins the equivalence).
            view = ContactView.model_construct(pseudonym=pseudonym, opted_out=out, **values)
            fields = tuple(name for name in _FIELD_NAMES if name in values)
            built[item.customer_id] = Built(view, fields, self._digest(pseudonym, values, out))
        return built

    def _digest(self, pseudonym: str, values: dict[str, str], out: frozenset[Channel]) -> str:
        """A keyed digest of everything the view says (never stored as values)."""
        parts = [pseudonym]
        parts.extend(f"{name}={values[name]}" if name in values else "" for name in _FIELD_NAMES)
        parts.append(",".join(sorted(out)))
        data = "\x1f".join(parts).encode("utf-8")
        return hashlib.blake2b(data, key=self._digest_key, digest_size=32).hexdigest()
