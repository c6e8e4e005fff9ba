"""``hub campaign plan``: the less travelled paths of the one-pass planner.

Candidates handed over out of line order, a line given twice, a SQLite without JSON functions
(customers then go in row by row), and customers with contacts after the plan time mixed with
customers without: each must plan exactly as the common path does.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts import Channel
from hub.pressure import plan_session
from hub.pressure.plan import Candidate, PlanError, PlanRow, plan_campaign
from tests.pressure.test_plan import (
    BASE,
    RANDOM_POLICIES,
    HubFactory,
    PressureHub,
    random_history,
)


def _run(hub: PressureHub, rows: list[Candidate], at: datetime, now: datetime) -> Any:
    collected: list[PlanRow] = []
    report = plan_campaign(
        hub.runtime.engine, hub.ledger.policy, rows, at=at, now=now, sink=collected.append
    )
    return report.as_dict(), [tuple(vars(row).values()) for row in collected]


def _candidates(hub: PressureHub, customers: list[str], rng: random.Random) -> list[Candidate]:
    scenarios = sorted(hub.ledger.policy.scenarios)
    return [
        Candidate(line, rng.choice(customers), rng.choice(scenarios), rng.choice(list(Channel)))
        for line in range(2, 60)
    ]


def test_candidates_out_of_line_order_plan_as_in_order(pressure_hub: HubFactory) -> None:
    hub = pressure_hub(RANDOM_POLICIES["every-rule"])
    rng, now = random.Random("order"), datetime.now(UTC)
    customers, _ = random_history(hub, rng, now)
    rows = _candidates(hub, customers[:8], rng)
    shuffled = rows[:]
    rng.shuffle(shuffled)
    at = BASE + timedelta(hours=3)
    # Rows come back in line order and every outcome is the same.
    assert _run(hub, shuffled, at, now) == _run(hub, rows, at, now)


def test_a_line_given_twice_is_refused(pressure_hub: HubFactory) -> None:
    hub = pressure_hub(RANDOM_POLICIES["every-rule"])
    customer = hub.customer("twice@example.com")
    rows = [Candidate(line, customer, "promo", Channel.EMAIL) for line in (3, 2, 3)]
    with pytest.raises(PlanError, match="line 3 appears more than once"):
        plan_campaign(hub.runtime.engine, hub.ledger.policy, rows, at=BASE)


def test_without_json_functions_customers_go_in_row_by_row(
    pressure_hub: HubFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = pressure_hub(RANDOM_POLICIES["caps-and-decay"])
    rng, now = random.Random("json"), datetime.now(UTC)
    customers, _ = random_history(hub, rng, now)
    rows = _candidates(hub, [*customers[:10], "cus_nobody"], rng)
    at = BASE - timedelta(days=2)  # many customers have contacts after the plan time
    expected = _run(hub, rows, at, now)
    monkeypatch.setattr(plan_session, "has_json", lambda connection: False)
    assert _run(hub, rows, at, now) == expected
    assert expected[0]["invalid"] and expected[0]["totals"]["admitted"]
