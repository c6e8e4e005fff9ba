"""The ledger against a pure-Python model of its caps (SQLite), driven by hypothesis.

Rules reserve (for random customers, channels, scenarios and send instants around a simulated
clock), commit, release, record outside contacts, expire lapsed holds and let time pass. The
model keeps every ledger row and, for each reservation, says whether the send fits every cap
(count and weight, rolling windows) right now; the ledger must agree:

* ``allowed`` exactly when the model says the send fits at its instant;
* ``deferred(until)`` only when it does not fit now, does fit at ``until`` (within the scenario's
  maximum delay) and fits at no earlier instant;
* ``denied`` only when it fits at no instant up to the maximum delay;
* the same idempotency key replays the identical decision, writing nothing.

After every step the database must hold exactly the model's rows, and no cap may be exceeded by
the contacts that hold a slot in any window, except windows holding a contact the caps were
never asked about (an outside record, a transactional send, a hold committed after it lapsed).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from contracts import Channel, Contact, DecisionOutcome, Identifier, IdentifierKind, MessageKind
from hub.contacts.apply import apply_contact
from hub.pressure import ledger as ledger_module
from hub.pressure.decisions import all_decisions
from hub.pressure.ledger import Ledger, LedgerError, Reservation
from hub.pressure.policy import Policy
from hub.runtime import Runtime
from hub.storage.db import session_scope
from hub.testing import make_installation
from tests.pressure.test_concurrency import CapSpec, Row, counting, load_rows, overshoots

MARKETING, TRANSACTIONAL = MessageKind.MARKETING, MessageKind.TRANSACTIONAL
STEP = timedelta(minutes=30)  # every instant is a whole number of steps from START
START = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(hours=1)
DEFAULT_MAX_DELAY = timedelta(days=3)
WEIGHTS = {Channel.EMAIL: 1.0, Channel.SMS: 2.0, Channel.PUSH: 1.0}
CUSTOMERS = 2


@dataclass(frozen=True)
class Scenario:
    priority: int
    kind: MessageKind = MARKETING
    weight: float | None = None
    cap: tuple[int, timedelta] | None = None
    max_delay: timedelta | None = None


SCENARIOS = {
    "cart": Scenario(90, cap=(1, timedelta(days=2)), max_delay=timedelta(hours=12)),
    "promo": Scenario(20, weight=0.5),
    "receipt": Scenario(100, kind=TRANSACTIONAL),
}
CAPS = [
    CapSpec("global-2d", 3, timedelta(days=2)),
    CapSpec("email-12h", 1, timedelta(hours=12), channels=(Channel.EMAIL,)),
    CapSpec("weight-1d", 3, timedelta(days=1), measure="weight", counts=(MARKETING,)),
    *(
        CapSpec(f"scenario-cap:{name}", s.cap[0], s.cap[1], scenarios=(name,))
        for name, s in SCENARIOS.items()
        if s.cap is not None
    ),
]
CAP_NAMES = {cap.name for cap in CAPS}


def _seconds(span: timedelta) -> str:
    return f'"{int(span.total_seconds())}s"'


def policy_toml() -> str:
    parts = ["[pressure]", f"reservation_ttl = {_seconds(TTL)}"]
    parts.append(f"default_max_delay = {_seconds(DEFAULT_MAX_DELAY)}")
    parts += [f"weights.{channel.value} = {weight:g}" for channel, weight in WEIGHTS.items()]
    parts += ["", *(cap.toml() for cap in CAPS if not cap.name.startswith("scenario-cap:"))]
    for name, scenario in SCENARIOS.items():
        parts += [f"[scenarios.{name}]", f"priority = {scenario.priority}"]
        parts.append(f'kind = "{scenario.kind.value}"')
        if scenario.weight is not None:
            parts.append(f"weight = {scenario.weight:g}")
        if scenario.cap is not None:
            parts.append(
                f"cap = {{limit = {scenario.cap[0]}, window = {_seconds(scenario.cap[1])}}}"
            )
        if scenario.max_delay is not None:
            parts.append(f"max_delay = {_seconds(scenario.max_delay)}")
        parts.append("")
    return "\n".join(parts)


def weight_of(channel: Channel, scenario: str) -> float:
    configured = SCENARIOS[scenario].weight
    return configured if configured is not None else WEIGHTS[channel]


class Clock:
    """The ledger's ``utcnow`` during the test: time moves only when the machine says so."""

    now = START

    def __call__(self) -> datetime:
        return self.now


CLOCK = Clock()


# -- the model --------------------------------------------------------------------------------
class Model:
    def __init__(self) -> None:
        self.rows: dict[int, Row] = {}
        #: Rows no cap was asked about: recorded, transactional, committed after lapsing.
        self.exempt: set[int] = set()
        self.decisions = 0

    def holding(self, customer: str) -> list[Row]:
        return counting((r for r in self.rows.values() if r.customer_id == customer), CLOCK.now)

    def fits(self, customer: str, channel: Channel, scenario: str, at: datetime) -> bool:
        """Would this send, at ``at``, keep every window that contains it within every cap?"""
        if SCENARIOS[scenario].kind is not MARKETING:  # caps constrain marketing sends only
            return True
        weight = weight_of(channel, scenario)
        held = self.holding(customer)
        for cap in CAPS:
            if (cap.channels and channel not in cap.channels) or (
                cap.scenarios and scenario not in cap.scenarios
            ):
                continue
            assert cap.window is not None
            window = cap.window
            counted = [r for r in held if cap.counted(r)]
            new = weight if cap.measure == "weight" else 1.0
            # every window (end - window, end] containing ``at``: the fullest end on ``at`` or
            # on a later contact
            for end in [at, *(r.at for r in counted if at < r.at < at + window)]:
                used = sum(cap.value(r) for r in counted if end - window < r.at <= end)
                if used + new > cap.limit:
                    return False
        return True

    def instants(self, customer: str, after: datetime, until: datetime) -> list[datetime]:
        """Instants in (after, until] that stand for every instant there: whether a send fits
        only changes at a contact's instant, or a window's length before or after it."""
        windows = [cap.window for cap in CAPS if cap.window is not None]
        marks = {r.at + k * w for r in self.holding(customer) for w in windows for k in (-1, 0, 1)}
        marks |= {after, until}
        found = {m + d for m in marks for d in (timedelta(0), timedelta(minutes=1))}
        return sorted(m for m in found if after < m <= until)


# -- the machine ------------------------------------------------------------------------------
customers = st.integers(0, CUSTOMERS - 1)
channels = st.sampled_from(list(Channel))
scenarios = st.sampled_from(sorted(SCENARIOS))
offsets = st.integers(-16, 32).map(lambda n: n * STEP)  # send instants around the clock


@dataclass(frozen=True)
class Request:
    who: int
    channel: Channel
    scenario: str
    offset: timedelta
    commit: bool
    keyed: bool


requests = st.builds(Request, customers, channels, scenarios, offsets, st.booleans(), st.booleans())


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        CLOCK.now = START
        self.root = Path(tempfile.mkdtemp(prefix="ledger-sm-"))
        installation = make_installation(self.root / "hub", extra=policy_toml())
        self.runtime: Runtime = installation.runtime()
        policy = Policy(self.runtime.settings.pressure, self.runtime.settings.scenarios)
        self.ledger = Ledger(self.runtime.engine, policy)
        self.model = Model()
        self.customers: list[str] = []
        self.replies: dict[str, Reservation] = {}
        self.keys = 0

    @initialize()
    def create_customers(self) -> None:
        with session_scope(self.runtime.engine) as session:
            for n in range(CUSTOMERS):
                contact = Contact(
                    identifiers=[Identifier(kind=IdentifierKind.EMAIL, value=f"c{n}@example.com")]
                )
                applied = apply_contact(session, self.runtime.identity, contact, source="test")
                self.customers.append(applied.customer_id)

    def teardown(self) -> None:
        self.runtime.engine.dispose()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- rules ------------------------------------------------------------------------------
    @rule(steps=st.integers(1, 30))
    def time_passes(self, steps: int) -> None:
        CLOCK.now += steps * STEP

    @rule(requests=st.lists(requests, min_size=1, max_size=4))
    def reserve(self, requests: list[Request]) -> None:
        for request in requests:
            self.reserve_one(**vars(request))

    def reserve_one(
        self,
        who: int,
        channel: Channel,
        scenario: str,
        offset: timedelta,
        commit: bool,
        keyed: bool,
    ) -> None:
        customer, at, now = self.customers[who], CLOCK.now + offset, CLOCK.now
        key = None
        if keyed:
            key, self.keys = f"key-{self.keys}", self.keys + 1
        fits = self.model.fits(customer, channel, scenario, at)
        reply = self.ledger.reserve(
            customer, channel, scenario, at=at, idempotency_key=key, commit=commit
        )
        self.model.decisions += 1
        decision = reply.decision
        assert not reply.replayed
        assert {u.rule for u in decision.consulted} >= {
            cap.name
            for cap in CAPS
            if (not cap.channels or channel in cap.channels)
            and (not cap.scenarios or scenario in cap.scenarios)
        }
        assert (decision.outcome is DecisionOutcome.ALLOWED) == fits, (decision, fits)
        if key is not None:
            self.replies[key] = reply
        if decision.outcome is not DecisionOutcome.ALLOWED:
            assert reply.reservation_id is None
            assert decision.rule in CAP_NAMES
            deadline = at + (SCENARIOS[scenario].max_delay or DEFAULT_MAX_DELAY)
            if decision.outcome is DecisionOutcome.DEFERRED:
                until = decision.until
                assert until is not None and at < until <= deadline, decision
                assert self.model.fits(customer, channel, scenario, until), decision
                earlier = self.model.instants(customer, at, until - timedelta(microseconds=1))
                fit = [m for m in earlier if self.model.fits(customer, channel, scenario, m)]
                assert fit == [], f"fits at {fit[0]}, earlier than {until}"
            else:
                assert decision.until is None
                later = self.model.instants(customer, at, deadline)
                fit = [m for m in later if self.model.fits(customer, channel, scenario, m)]
                assert fit == [], f"denied, yet fits at {fit[0]} (deadline {deadline})"
            return
        assert reply.reservation_id is not None
        assert reply.reservation_id not in self.model.rows
        kind = SCENARIOS[scenario].kind
        self.model.rows[reply.reservation_id] = Row(
            reply.reservation_id,
            customer,
            at,
            channel,
            scenario,
            kind,
            weight_of(channel, scenario),
            "sent" if commit else "reserved",
            None if commit else max(at, now) + TTL,
        )
        if kind is not MARKETING:
            self.model.exempt.add(reply.reservation_id)

    @precondition(lambda self: self.replies)
    @rule(data=st.data(), who=customers, channel=channels, scenario=scenarios, offset=offsets)
    def replay(
        self,
        data: st.DataObject,
        who: int,
        channel: Channel,
        scenario: str,
        offset: timedelta,
    ) -> None:
        """The same key, whatever else the retry says, gets the first decision back."""
        key = data.draw(st.sampled_from(sorted(self.replies)))
        first = self.replies[key]
        again = self.ledger.reserve(
            self.customers[who], channel, scenario, at=CLOCK.now + offset, idempotency_key=key
        )
        assert again.replayed
        assert again.decision == first.decision
        assert again.reservation_id == first.reservation_id

    def pick(self, data: st.DataObject) -> Row:
        """Mostly a live hold; sometimes any row, to see refused transitions."""
        live = sorted(i for i, r in self.model.rows.items() if r.status in ("reserved", "expired"))
        pool = live if live and data.draw(st.integers(0, 3), label="live") else self.model.rows
        return self.model.rows[data.draw(st.sampled_from(sorted(pool)), label="row")]

    @precondition(lambda self: self.model.rows)
    @rule(data=st.data(), sent_at=st.none() | offsets, twice=st.booleans())
    def commit(self, data: st.DataObject, sent_at: timedelta | None, twice: bool) -> None:
        row = self.pick(data)
        moment = None if sent_at is None else CLOCK.now + sent_at
        for _ in range(1 + twice):
            if row.status in ("released", "recorded"):
                with pytest.raises(LedgerError):
                    self.ledger.commit(row.id, sent_at=moment)
                continue
            assert self.ledger.commit(row.id, sent_at=moment) == "sent"
            if row.status == "sent":
                continue  # committing twice is one commit: nothing changes
            lapsed = row.expires_at is not None and row.expires_at <= CLOCK.now
            if row.status == "expired" or lapsed:
                self.model.exempt.add(row.id)  # its slot may have gone to another send
            if moment is not None and moment != row.at:
                self.model.exempt.add(row.id)  # moved: no cap was asked about this instant
            at = row.at if moment is None else moment
            row = self.model.rows[row.id] = replace(row, status="sent", at=at, expires_at=None)

    @precondition(lambda self: self.model.rows)
    @rule(data=st.data(), twice=st.booleans())
    def release(self, data: st.DataObject, twice: bool) -> None:
        row = self.pick(data)
        for _ in range(1 + twice):
            if row.status in ("sent", "recorded"):
                with pytest.raises(LedgerError):
                    self.ledger.release(row.id)
                continue
            assert self.ledger.release(row.id) == "released"
            row = self.model.rows[row.id] = replace(row, status="released", expires_at=None)

    @rule(who=customers, channel=channels, scenario=scenarios, offset=offsets)
    def record(self, who: int, channel: Channel, scenario: str, offset: timedelta) -> None:
        """A contact made outside the hub: it counts, though no cap was asked."""
        customer, at = self.customers[who], CLOCK.now + offset
        row_id = self.ledger.record(customer, channel, scenario, at=at)
        assert row_id not in self.model.rows
        kind, weight = SCENARIOS[scenario].kind, weight_of(channel, scenario)
        row = Row(row_id, customer, at, channel, scenario, kind, weight, "recorded", None)
        self.model.rows[row_id] = row
        self.model.exempt.add(row_id)

    # Hypothesis favours rules with fewer arguments, then by name: "sweep" (not "expire") and
    # its one argument keep it from crowding out ``reserve``.
    @rule(to_next_lapse=st.booleans())
    def sweep(self, to_next_lapse: bool) -> None:
        """``Ledger.expire``, maybe at the very instant the next hold lapses (the boundary)."""
        held = [r.expires_at for r in self.model.rows.values() if r.status == "reserved"]
        ahead = [e for e in held if e is not None and e > CLOCK.now]
        if to_next_lapse and ahead:
            CLOCK.now = min(ahead)
        for _ in range(2):  # the second sweep finds nothing left to expire
            lapsed = [
                r
                for r in self.model.rows.values()
                if r.status == "reserved" and r.expires_at is not None and r.expires_at <= CLOCK.now
            ]
            assert self.ledger.expire() == len(lapsed)
            for row in lapsed:
                self.model.rows[row.id] = replace(row, status="expired")

    # -- invariants -------------------------------------------------------------------------
    @invariant()
    def ledger_holds_the_model_rows(self) -> None:
        with self.runtime.engine.connect() as connection:
            rows = load_rows(connection)
            decisions = connection.execute(
                select(func.count()).select_from(all_decisions().subquery())
            ).scalar_one()
        assert rows == sorted(self.model.rows.values(), key=lambda r: r.id)
        assert decisions == self.model.decisions  # replays write nothing

    @invariant()
    def no_cap_is_exceeded(self) -> None:
        with self.runtime.engine.connect() as connection:
            held = counting(load_rows(connection), CLOCK.now)
        assert overshoots(CAPS, held, exempt=self.model.exempt) == []


@pytest.fixture
def clock() -> Iterator[Clock]:
    with patch.object(ledger_module, "utcnow", CLOCK):
        yield CLOCK


def test_ledger_matches_the_model(clock: Clock) -> None:
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
