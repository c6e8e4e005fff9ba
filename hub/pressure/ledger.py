"""The ledger store: atomic, per-customer reservations on SQLite and PostgreSQL.

``reserve`` is linearisable per customer: the decision and the reservation row are written in
the transaction that read the customer's history, under a lock on that customer (an advisory
transaction lock on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers anyway). So N
workers reserving for the same customer can never overshoot a cap.

Every active reservation counts against every cap, whatever its priority: a low-priority
promotion cannot take the slot a cart reminder holds, and a granted reservation is never
revoked behind the back of a sender that may already be sending.

The send-time path runs fixed statements on a pooled DBAPI connection (``ledger_sql``): per
call, SQLAlchemy Core's statement building and compiling cost more than the queries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, update

from contracts import Channel, DecisionOutcome, MessageKind, RuleUsage
from hub.pressure.engine import Decision, Intent, PastContact, PastEvent, decide
from hub.pressure.ledger_sql import Statements, Transaction, consulted_json
from hub.pressure.policy import Policy
from hub.storage.models import Customer, CustomerEvent, LedgerEntry, PressureDecision
from hub.storage.models import table as t
from hub.storage.types import utcnow

__all__ = ["Ledger", "LedgerError", "Reservation"]

LEDGER, DECISIONS, EVENTS = t(LedgerEntry), t(PressureDecision), t(CustomerEvent)
CUSTOMERS = t(Customer)
COUNTING = ("sent", "recorded")
# Enum members by stored value: a dict lookup instead of an enum call per history row.
_CHANNELS = {c.value: c for c in Channel}
_KINDS = {k.value: k for k in MessageKind}


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
        self._sql = Statements(engine, self._event_types)
        # ZoneInfo keeps only a few zones strongly cached: with customers in many zones it would
        # read the tz database again on most decisions (~50 us each).
        self._zones: dict[str | None, ZoneInfo] = {}

    def _transaction(self, *, write: bool) -> Transaction:
        return Transaction(self.engine, sqlite=self._sql.sqlite, write=write)

    # -- reading --------------------------------------------------------------------------
    def _lock(self, connection: Transaction, customer_id: str) -> None:
        if self._postgres:
            connection.first(self._sql.lock, {"key": customer_id})

    def _history(
        self,
        connection: Transaction,
        customer_id: str,
        at: datetime,
        now: datetime,
        horizon: datetime,
    ) -> tuple[str | None, list[PastContact], list[PastEvent]]:
        """The customer's zone, contacts that can count and events, in one statement."""
        sql, to_db, from_db = self._sql, self._sql.to_db, self._sql.from_db
        params = {
            "customer": customer_id,
            "low": to_db(at - self.policy.lookback),
            "horizon": to_db(horizon),
            "now": to_db(now),
            **sql.event_params,
        }
        zone: str | None = None
        known = False
        contacts: list[PastContact] = []
        events: list[PastEvent] = []
        for event, first, moment, channel, scenario, kind, weight, status in connection.rows(
            sql.history, params
        ):
            if event is not None:
                events.append(PastEvent(first, from_db(moment)))
                continue
            zone, known = first, True
            if moment is not None:  # None: the customer without a contact in range (LEFT JOIN)
                contacts.append(
                    PastContact(
                        from_db(moment),
                        _CHANNELS[channel],
                        scenario,
                        _KINDS[kind],
                        weight,
                        status == "reserved",
                    )
                )
        if not known:
            raise LedgerError("unknown customer")
        return zone, contacts, events

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
            zone=self._zone(zone),
        )

    def _zone(self, name: str | None) -> ZoneInfo:
        zone = self._zones.get(name)
        if zone is None:
            zone = self._zones[name] = self.policy.zone(name)
        return zone

    def _decide(
        self,
        connection: Transaction,
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
        with self._transaction(write=False) as connection:
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
        """Decide and, when allowed, hold the slot; the same idempotency key replays.

        One transaction: lock, replay lookup, history, then either the ledger row (already
        ``sent`` when ``commit``) holding its granting decision, or the refusal's decision row.
        """
        now = utcnow()
        at = at or now
        sql, to_db = self._sql, self._sql.to_db
        with self._transaction(write=True) as connection:
            self._lock(connection, customer_id)
            if idempotency_key is not None:
                if self._postgres:
                    connection.first(sql.key_lock, {"key": idempotency_key})
                replay = self._replay(connection, idempotency_key)
                if replay is not None:
                    return replay
            intent, decision = self._decide(
                connection, customer_id, channel, scenario, kind, at, now
            )
            self._remember_version(connection, now)
            reservation_id = None
            if decision.outcome is not DecisionOutcome.ALLOWED:
                connection.run(
                    sql.insert_decision,
                    {
                        "customer_id": customer_id,
                        "channel": channel.value,
                        "scenario": scenario,
                        "kind": intent.kind.value,
                        "at": to_db(at),
                        "outcome": decision.outcome.value,
                        "rule": decision.rule,
                        "reason": decision.reason[:1000],
                        "until": to_db(decision.until),
                        "consulted": consulted_json(decision.consulted),
                        "rule_set_version": decision.version,
                        "idempotency_key": idempotency_key,
                        "reservation_id": None,
                        "decided_at": to_db(now),
                    },
                )
            else:  # granted: the decision is stored in the reservation's own row
                reservation_id = self._insert_granted(
                    connection, customer_id, intent, decision, idempotency_key, commit, now
                )
        self._stored()
        return Reservation(decision, reservation_id)

    def _insert_granted(
        self,
        connection: Transaction,
        customer_id: str,
        intent: Intent,
        decision: Decision,
        idempotency_key: str | None,
        commit: bool,
        now: datetime,
    ) -> int:
        """The reservation's row, holding the decision that granted it."""
        to_db, stamp, at = self._sql.to_db, self._sql.to_db(now), intent.at
        expires_at = None if commit else max(at, now) + self.policy.settings.reservation_ttl
        return connection.insert(
            self._sql.insert_entry,
            {
                "customer_id": customer_id,
                "channel": intent.channel.value,
                "scenario": intent.scenario,
                "kind": intent.kind.value,
                "weight": intent.weight,
                "priority": intent.priority,
                "status": "sent" if commit else "reserved",
                "at": to_db(at),
                "expires_at": to_db(expires_at),
                "idempotency_key": idempotency_key,
                "rule_set_version": decision.version,
                "source": "hub",
                "created_at": stamp,
                "updated_at": stamp,
                "decision_reason": decision.reason[:1000],
                "decision_consulted": consulted_json(decision.consulted),
            },
        )

    def _replay(self, connection: Transaction, key: str) -> Reservation | None:
        row = connection.first(self._sql.replay, {"key": key})
        if row is None:
            return None
        outcome, rule, reason, until, consulted, version, reservation_id = row
        decision = Decision(
            DecisionOutcome(outcome),
            rule,
            reason,
            self._sql.from_db(until),
            [RuleUsage(**u) for u in json.loads(consulted)],
            version,
        )
        return Reservation(decision, reservation_id, replayed=True)

    def _remember_version(self, connection: Transaction, now: datetime) -> None:
        """Store the rule set the first time this process decides under it.

        The insert is idempotent (``ON CONFLICT DO NOTHING``); the version is only marked as
        known once the transaction that stored it has committed (see ``_stored``), so a rolled
        back transaction can never leave decisions pointing at a missing rule set.
        """
        if self.policy.version in self._known_versions:
            return
        connection.run(
            self._sql.insert_version,
            {
                "version": self.policy.version,
                "rules": self.policy.document_text,
                "first_used_at": self._sql.to_db(now),
            },
        )

    def _stored(self) -> None:
        self._known_versions.add(self.policy.version)

    def _transition(self, reservation_id: int, target: str, at: datetime | None) -> str:
        sql, to_db = self._sql, self._sql.to_db
        params: dict[str, Any] = {"id": reservation_id, "target": target, "now": to_db(utcnow())}
        if at is not None:
            params["at"] = to_db(at)
        with self._transaction(write=True) as connection:
            if connection.run(sql.transition if at is None else sql.transition_at, params):
                return target
            row = connection.first(sql.status, {"id": reservation_id})
            if row is None:
                raise LedgerError(f"no reservation {reservation_id}")
            if row[0] == target:
                return target  # idempotent: committing twice is one commit
            raise LedgerError(f"reservation {reservation_id} is {row[0]}, not reserved")

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
        to_db = self._sql.to_db
        with self._transaction(write=True) as connection:
            self._lock(connection, customer_id)
            if connection.first(self._sql.customer, {"customer": customer_id}) is None:
                raise LedgerError("unknown customer")
            intent = self._intent(channel, scenario, kind, at, None)
            self._remember_version(connection, now)
            stamp = to_db(now)
            entry_id = connection.insert(
                self._sql.insert_entry,
                {
                    "customer_id": customer_id,
                    "channel": channel.value,
                    "scenario": scenario,
                    "kind": intent.kind.value,
                    "weight": intent.weight,
                    "priority": intent.priority,
                    "status": "recorded",
                    "at": to_db(at),
                    "expires_at": None,
                    "idempotency_key": None,
                    "rule_set_version": self.policy.version,
                    "source": source,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "decision_reason": None,
                    "decision_consulted": None,
                },
            )
        self._stored()
        return int(entry_id)

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
