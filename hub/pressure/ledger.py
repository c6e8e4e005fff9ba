"""The ledger store: atomic, per-customer reservations on SQLite and PostgreSQL.

``reserve`` is linearisable per customer: the decision and the reservation row are written in
the transaction that read the customer's history, under a lock on that customer (an advisory
transaction lock on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers anyway). So N
workers reserving for the same customer can never overshoot a cap.

Every active reservation counts against every cap, whatever its priority: a low-priority
promotion cannot take the slot a cart reminder holds, and a granted reservation is never
revoked behind the back of a sender that may already be sending.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, and_, insert, or_, select, text, update

from contracts import Channel, DecisionOutcome, MessageKind, RuleUsage
from hub.pressure.engine import Decision, Intent, PastContact, PastEvent, decide
from hub.pressure.policy import Policy
from hub.storage.models import Customer, CustomerEvent, LedgerEntry, PressureDecision, RuleSet
from hub.storage.models import table as t
from hub.storage.types import utcnow

__all__ = ["Ledger", "LedgerError", "Reservation"]

LEDGER, DECISIONS, EVENTS = t(LedgerEntry), t(PressureDecision), t(CustomerEvent)
CUSTOMERS, RULE_SETS = t(Customer), t(RuleSet)
COUNTING = ("sent", "recorded")


class LedgerError(Exception):
    """Unknown customer or reservation, or a state change that makes no sense."""


@dataclass(frozen=True)
class Reservation:
    decision: Decision
    reservation_id: int | None
    #: True when an earlier call with the same idempotency key made this decision.
    replayed: bool = False


class Ledger:
    def __init__(self, engine: Engine, policy: Policy) -> None:
        self.engine = engine
        self.policy = policy
        self._postgres = engine.dialect.name == "postgresql"
        self._known_versions: set[str] = set()
        self._event_types = sorted({r.event for r in policy.rules if r.event})

    # -- reading --------------------------------------------------------------------------
    def _lock(self, connection: Connection, customer_id: str) -> None:
        if self._postgres:
            connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                {"key": customer_id},
            )

    def _history(
        self,
        connection: Connection,
        customer_id: str,
        at: datetime,
        now: datetime,
        horizon: datetime,
    ) -> tuple[str | None, list[PastContact], list[PastEvent]]:
        zone = connection.execute(
            select(CUSTOMERS.c.time_zone).where(CUSTOMERS.c.id == customer_id)
        ).first()
        if zone is None:
            raise LedgerError("unknown customer")
        low = at - self.policy.lookback
        rows = connection.execute(
            select(
                LEDGER.c.at,
                LEDGER.c.channel,
                LEDGER.c.scenario,
                LEDGER.c.kind,
                LEDGER.c.weight,
                LEDGER.c.status,
            ).where(
                LEDGER.c.customer_id == customer_id,
                LEDGER.c.at > low,
                LEDGER.c.at < horizon,
                or_(
                    LEDGER.c.status.in_(COUNTING),
                    and_(LEDGER.c.status == "reserved", LEDGER.c.expires_at > now),
                ),
            )
        )
        contacts = [
            PastContact(
                r.at,
                Channel(r.channel),
                r.scenario,
                MessageKind(r.kind),
                r.weight,
                pending=r.status == "reserved",
            )
            for r in rows
        ]
        events: list[PastEvent] = []
        if self._event_types:
            events = [
                PastEvent(r.type, r.occurred_at)
                for r in connection.execute(
                    select(EVENTS.c.type, EVENTS.c.occurred_at).where(
                        EVENTS.c.customer_id == customer_id,
                        EVENTS.c.type.in_(self._event_types),
                        EVENTS.c.occurred_at > low,
                        EVENTS.c.occurred_at <= horizon,
                    )
                )
            ]
        return zone[0], contacts, events

    def _intent(
        self,
        channel: Channel,
        scenario: str,
        kind: MessageKind | None,
        at: datetime,
        zone: str | None,
    ) -> Intent:
        settings = self.policy.scenario(scenario)
        return Intent(
            channel=channel,
            scenario=scenario,
            kind=kind or settings.kind,
            at=at,
            weight=self.policy.weight(channel, scenario),
            priority=settings.priority,
            zone=self.policy.zone(zone),
        )

    def _decide(
        self,
        connection: Connection,
        customer_id: str,
        channel: Channel,
        scenario: str,
        kind: MessageKind | None,
        at: datetime,
        now: datetime,
    ) -> tuple[Intent, Decision]:
        max_delay = self.policy.max_delay(scenario)
        horizon = at + max_delay + self.policy.lookback
        zone, contacts, events = self._history(connection, customer_id, at, now, horizon)
        intent = self._intent(channel, scenario, kind, at, zone)
        return intent, decide(self.policy, intent, contacts, events, max_delay=max_delay)

    def check(
        self,
        customer_id: str,
        channel: Channel,
        scenario: str,
        *,
        kind: MessageKind | None = None,
        at: datetime | None = None,
    ) -> Decision:
        """Evaluate without recording anything."""
        now = utcnow()
        with self.engine.connect() as connection:
            return self._decide(connection, customer_id, channel, scenario, kind, at or now, now)[1]

    # -- writing --------------------------------------------------------------------------
    def reserve(
        self,
        customer_id: str,
        channel: Channel,
        scenario: str,
        *,
        kind: MessageKind | None = None,
        at: datetime | None = None,
        idempotency_key: str | None = None,
        commit: bool = False,
    ) -> Reservation:
        """Decide and, when allowed, hold the slot; the same idempotency key replays."""
        now = utcnow()
        at = at or now
        with self.engine.begin() as connection:
            self._lock(connection, customer_id)
            if idempotency_key is not None:
                replay = self._replay(connection, idempotency_key)
                if replay is not None:
                    return replay
            intent, decision = self._decide(
                connection, customer_id, channel, scenario, kind, at, now
            )
            self._remember_version(connection, now)
            reservation_id = None
            if decision.outcome is DecisionOutcome.ALLOWED:
                reservation_id = connection.execute(
                    insert(LEDGER).values(
                        customer_id=customer_id,
                        channel=channel.value,
                        scenario=scenario,
                        kind=intent.kind.value,
                        weight=intent.weight,
                        priority=intent.priority,
                        status="sent" if commit else "reserved",
                        at=at,
                        expires_at=None
                        if commit
                        else max(at, now) + self.policy.settings.reservation_ttl,
                        idempotency_key=idempotency_key,
                        rule_set_version=decision.version,
                        source="hub",
                        created_at=now,
                        updated_at=now,
                    )
                ).inserted_primary_key[0]
            connection.execute(
                insert(DECISIONS).values(
                    customer_id=customer_id,
                    channel=channel.value,
                    scenario=scenario,
                    kind=intent.kind.value,
                    at=at,
                    outcome=decision.outcome.value,
                    rule=decision.rule,
                    reason=decision.reason[:1000],
                    until=decision.until,
                    consulted=json.dumps([u.model_dump() for u in decision.consulted]),
                    rule_set_version=decision.version,
                    idempotency_key=idempotency_key,
                    reservation_id=reservation_id,
                    decided_at=now,
                )
            )
        return Reservation(decision, reservation_id)

    def _replay(self, connection: Connection, key: str) -> Reservation | None:
        row = connection.execute(
            select(DECISIONS).where(DECISIONS.c.idempotency_key == key)
        ).first()
        if row is None:
            return None
        decision = Decision(
            DecisionOutcome(row.outcome),
            row.rule,
            row.reason,
            row.until,
            [RuleUsage(**u) for u in json.loads(row.consulted)],
            row.rule_set_version,
        )
        return Reservation(decision, row.reservation_id, replayed=True)

    def _remember_version(self, connection: Connection, now: datetime) -> None:
        version = self.policy.version
        if version in self._known_versions:
            return
        exists = connection.execute(
            select(RULE_SETS.c.version).where(RULE_SETS.c.version == version)
        ).first()
        if exists is None:
            connection.execute(
                insert(RULE_SETS).values(
                    version=version,
                    rules=json.dumps(self.policy.document, sort_keys=True),
                    first_used_at=now,
                )
            )
        self._known_versions.add(version)

    def _transition(self, reservation_id: int, target: str, at: datetime | None) -> str:
        now = utcnow()
        with self.engine.begin() as connection:
            row = connection.execute(
                select(LEDGER.c.status, LEDGER.c.customer_id).where(LEDGER.c.id == reservation_id)
            ).first()
            if row is None:
                raise LedgerError(f"no reservation {reservation_id}")
            if row.status == target:
                return target  # idempotent: committing twice is one commit
            if row.status not in ("reserved", "expired"):
                raise LedgerError(f"reservation {reservation_id} is {row.status}, not reserved")
            values: dict[str, object] = {"status": target, "updated_at": now, "expires_at": None}
            if at is not None:
                values["at"] = at
            connection.execute(update(LEDGER).where(LEDGER.c.id == reservation_id).values(values))
        return target

    def commit(self, reservation_id: int, *, sent_at: datetime | None = None) -> str:
        """The message went out: the contact counts for good (even if the hold had expired)."""
        return self._transition(reservation_id, "sent", sent_at)

    def release(self, reservation_id: int) -> str:
        """The send failed or was cancelled: free the slot."""
        return self._transition(reservation_id, "released", None)

    def record(
        self,
        customer_id: str,
        channel: Channel,
        scenario: str,
        *,
        at: datetime,
        kind: MessageKind | None = None,
        source: str = "external",
    ) -> int:
        """A contact made outside the hub (history import, a vendor's own campaign)."""
        now = utcnow()
        with self.engine.begin() as connection:
            self._lock(connection, customer_id)
            exists = connection.execute(
                select(CUSTOMERS.c.id).where(CUSTOMERS.c.id == customer_id)
            ).first()
            if exists is None:
                raise LedgerError("unknown customer")
            intent = self._intent(channel, scenario, kind, at, None)
            self._remember_version(connection, now)
            return connection.execute(
                insert(LEDGER).values(
                    customer_id=customer_id,
                    channel=channel.value,
                    scenario=scenario,
                    kind=intent.kind.value,
                    weight=intent.weight,
                    priority=intent.priority,
                    status="recorded",
                    at=at,
                    expires_at=None,
                    idempotency_key=None,
                    rule_set_version=self.policy.version,
                    source=source,
                    created_at=now,
                    updated_at=now,
                )
            ).inserted_primary_key[0]

    def expire(self) -> int:
        """Mark reservations past their TTL as expired (they already stopped counting)."""
        now = utcnow()
        with self.engine.begin() as connection:
            result = connection.execute(
                update(LEDGER)
                .where(LEDGER.c.status == "reserved", LEDGER.c.expires_at <= now)
                .values(status="expired", updated_at=now)
            )
        return result.rowcount or 0
