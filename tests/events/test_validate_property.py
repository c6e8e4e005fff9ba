"""Property tests: whatever arrives, intake answers accepted, duplicate or refused-with-a-field.

Random JSON objects and valid events with one part broken never crash the validator or intake;
every refusal names a field and never repeats the offending value.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import BUILTIN_EVENT_TYPES
from hub.events.intake import ingest_events
from hub.events.validate import EventRejected, check_event
from hub.testing import make_installation
from tests.conftest import OUTBOX
from tests.events.conftest import WHEN, cart, event

#: Never a valid anything (uppercase, '@', spaces), so it can only reach a reason by leaking.
MARKER = "LEAK-Marker @ 0612345678"

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.just(MARKER),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
envelope_keys = st.sampled_from(
    ["id", "type", "source", "occurred_at", "identifiers", "pseudonym", "payload"]
)
random_objects = st.dictionaries(envelope_keys | st.text(max_size=10), json_values, max_size=8)

CONTACT = {"identifiers": [{"kind": "phone", "value": "0612345678"}], "locale": "fr"}
CONSENT = {"channel": "email", "status": "granted", "source": "s", "recorded_at": WHEN}
VALID = [
    event(),
    event(
        type="order.placed",
        payload={k: v for k, v in cart(order_id="o").items() if k not in {"cart_id", "updated_at"}},
    ),
    event(type="customer.signed_up", payload={"consents": [CONSENT]}),
    event(type="customer.updated", payload={"contact": CONTACT}),
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def broken_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with one value replaced by junk, or removed."""
    base = copy.deepcopy(draw(st.sampled_from(VALID)))
    path = draw(st.sampled_from(_paths(base)))
    parent = base
    for part in path[:-1]:
        parent = parent[part]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(json_values)
    return base


any_event = random_objects | broken_events() | st.sampled_from(VALID)
TYPES = dict(BUILTIN_EVENT_TYPES)


def _assert_well_formed(exc: EventRejected) -> None:
    assert isinstance(exc.field, str) and exc.field
    assert exc.reason and MARKER not in exc.reason
    assert "0612345678" not in exc.reason


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_event)
def test_the_validator_accepts_or_names_a_field(raw):
    try:
        checked = check_event(raw, TYPES)
    except EventRejected as exc:
        _assert_well_formed(exc)
    else:
        assert checked.envelope.type in TYPES
        TYPES[checked.envelope.type].model_validate(checked.payload)


@pytest.fixture(scope="module")
def intake_runtime(tmp_path_factory):
    root = Path(tmp_path_factory.mktemp("property")) / "hub"
    runtime = make_installation(root, bricks=OUTBOX).runtime()
    yield runtime
    runtime.engine.dispose()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(any_event, min_size=1, max_size=6))
def test_intake_accounts_for_every_event(intake_runtime, batch):
    report = ingest_events(intake_runtime, batch, source="api")
    assert report.accepted + report.duplicates + len(report.rejected) == len(batch)
    assert len(report.stored) == report.accepted
    for rejection in report.rejected:
        _assert_well_formed(EventRejected(rejection.field or "", rejection.reason))
        assert rejection.dead_letter_id is not None
