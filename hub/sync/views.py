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

from sqlalchemy import select
from sqlmodel import Session

from contracts import PII_FIELDS, Channel, ConsentStatus, ContactView, CustomerField, Purpose
from hub.identity.keys import KeyRing
from hub.identity.vault import Vault, VaultError
from hub.storage.db import chunks
from hub.storage.models import ConsentEntry, CustomerKey, SinkContact, VaultEntry, table
from hub.sync.feed import FeedItem

__all__ = [
    "Held",
    "ViewMaker",
    "held_by_sink",
    "marketing_consents",
]

_VAULT = table(VaultEntry)
_KEYS = table(CustomerKey)
_CONSENTS = table(ConsentEntry)
_SINK_CONTACTS = table(SinkContact)
#: Field order inside a view digest (stable across releases: changing it re-pushes everyone).
_DIGEST_ORDER = tuple(CustomerField)


@dataclass(frozen=True)
class Held:
    """What ``sink_contacts`` says the sink holds on one customer."""

    state: str
    view_digest: str | None
    fields: tuple[str, ...]


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
        for customer_id, state, digest, fields in rows:
            found[customer_id] = Held(state, digest, tuple(f for f in fields.split(",") if f))
    return found


def marketing_consents(
    session: Session, customer_ids: Sequence[str]
) -> dict[str, dict[Channel, str]]:
    """The current marketing consent status per channel (the latest statement by
    ``recorded_at``, then id: ``hub.consent.current_consents_many``'s order), without
    building an ORM object per consent row."""
    current: dict[str, dict[Channel, str]] = {c: {} for c in customer_ids}
    columns = (_CONSENTS.c.customer_id, _CONSENTS.c.channel, _CONSENTS.c.status)
    for chunk in chunks(sorted(set(customer_ids))):
        rows = session.execute(
            select(*columns)
            .where(_CONSENTS.c.customer_id.in_(chunk))
            .where(_CONSENTS.c.purpose == Purpose.MARKETING.value)
            .order_by(_CONSENTS.c.recorded_at, _CONSENTS.c.id)
        )
        for customer_id, channel, status in rows:
            current[customer_id][Channel(channel)] = status
    return current


def opted_out(statuses: dict[Channel, str]) -> frozenset[Channel]:
    """``hub.egress.opted_out_channels`` on pre-read statuses: denied channels only."""
    return frozenset(c for c, s in statuses.items() if s == ConsentStatus.DENIED.value)


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

    def _personal(self, session: Session, customer_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        values: dict[str, dict[str, str]] = {c: {} for c in customer_ids}
        if not self._pii:
            return values
        for chunk in chunks(sorted(set(customer_ids))):
            wrapped = dict(
                session.execute(
                    select(_KEYS.c.customer_id, _KEYS.c.wrapped_key).where(
                        _KEYS.c.customer_id.in_(chunk)
                    )
                ).all()
            )
            entries = session.execute(
                select(_VAULT.c.customer_id, _VAULT.c.field, _VAULT.c.ciphertext).where(
                    _VAULT.c.customer_id.in_(chunk), _VAULT.c.field.in_(self._pii)
                )
            )
            for customer_id, field, ciphertext in entries:
                blob = wrapped.get(customer_id)
                if blob is None:
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
        session: Session,
        items: Sequence[FeedItem],
        consents: dict[str, dict[Channel, str]],
    ) -> dict[str, ContactView]:
        """The sink's view of each customer in ``items``."""
        personal = self._personal(session, [item.customer_id for item in items])
        plain = {
            CustomerField.LOCALE: CustomerField.LOCALE in self.fields,
            CustomerField.TIME_ZONE: CustomerField.TIME_ZONE in self.fields,
        }
        built: dict[str, ContactView] = {}
        for item in items:
            values: dict[str, str] = dict(personal[item.customer_id])
            if plain[CustomerField.LOCALE] and item.locale is not None:
                values["locale"] = item.locale
            if plain[CustomerField.TIME_ZONE] and item.time_zone is not None:
                values["time_zone"] = item.time_zone
            built[item.customer_id] = ContactView(
                pseudonym=self.pseudonym(item.customer_id),
                opted_out=opted_out(consents.get(item.customer_id, {})),
                **values,
            )
        return built

    def digest(self, view: ContactView) -> str:
        """A keyed digest of everything the view says (never stored as values)."""
        parts = [view.pseudonym]
        for field in _DIGEST_ORDER:
            value = getattr(view, field.value)
            parts.append("" if value is None else f"{field.value}={value}")
        parts.append(",".join(sorted(view.opted_out)))
        data = "\x1f".join(parts).encode("utf-8")
        return hashlib.blake2b(data, key=self._digest_key, digest_size=32).hexdigest()
