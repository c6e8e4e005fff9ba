"""The flow language: what config accepts, what it refuses (by dotted path), how conditions
match payloads."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts import BUILTIN_EVENT_TYPES, Channel, Purpose
from hub.config import ConfigError, load_settings
from hub.pressure.rules import ScenarioSettings
from hub.scenarios.model import Condition, ScenarioFlow, parse_delay
from hub.scenarios.validation import flow_problems

CART = """
[scenarios.cart_recovery]
trigger = "cart.abandoned"
channels = ["email", "sms"]
cancel_if = ["order.placed"]
conditions = [{field = "total", op = "gte", value = 20}]
steps = [
  {delay = "1h", template = "cart-email", channels = ["email"]},
  {delay = "24h", template = "cart-sms", channels = ["sms"]},
]
"""


def _problems(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "hub.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return {p.path: p.message for p in caught.value.problems}


def test_a_flow_loads_with_the_ledger_fields(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_text(CART + 'priority = 80\nmax_delay = "24h"\n', encoding="utf-8")
    scenario = load_settings(path).scenarios["cart_recovery"]
    assert scenario.priority == 80
    assert [s.delay for s in scenario.steps] == [timedelta(hours=1), timedelta(hours=24)]
    assert scenario.step_channels(1) == [Channel.SMS]
    assert scenario.model_dump(mode="json")["steps"][0]["delay"] == "1h"


def test_problems_name_the_dotted_path(tmp_path: Path) -> None:
    text = (
        CART.replace('template = "cart-sms"', 'template = "  "')
        .replace('delay = "1h"', 'delay = "-1h"')
        .replace("value = 20}", 'value = "lots"}')
        .replace('["email", "sms"]', '["email", "fax"]')
    )
    problems = _problems(tmp_path, text)
    assert problems["scenarios.cart_recovery.steps.1.template"] == "must name a template"
    assert "must be zero or more" in problems["scenarios.cart_recovery.steps.0.delay"]
    assert "give a number" in problems["scenarios.cart_recovery.conditions.0"]
    assert "scenarios.cart_recovery.channels.1" in problems


def test_incoherent_flows_are_refused(tmp_path: Path) -> None:
    no_steps = '[scenarios.x]\ntrigger = "cart.abandoned"\nchannels = ["email"]\n'
    assert "at least one step" in _problems(tmp_path, no_steps)["scenarios.x"]
    both = CART + 'inactivity = {after = "90d", events = ["order.placed"]}\n'
    assert "not both" in _problems(tmp_path, both)["scenarios.cart_recovery"]
    no_channel = '[scenarios.x]\ntrigger = "a.b"\nsteps = [{template = "t"}]\n'
    assert "give channels" in _problems(tmp_path, no_channel)["scenarios.x"]
    idle = '[scenarios.x]\ninactivity = {after = "90d"}\nchannels = ["email"]\n'
    idle += 'steps = [{template = "t"}]\n'
    assert "count as activity" in _problems(tmp_path, idle)["scenarios.x.inactivity"]
    twice = CART.replace('["email", "sms"]', '["email", "email"]')
    assert "each channel once" in _problems(tmp_path, twice)["scenarios.cart_recovery.channels"]


def test_unknown_event_types_and_unsendable_steps() -> None:
    flow = ScenarioSettings.model_validate(
        {
            "trigger": "cart.abandonned",
            "cancel_if": ["order.placed", "acme.points"],
            "channels": ["email"],
            "steps": [{"template": "a"}, {"template": "b", "channels": ["push"]}],
        }
    )
    problems = dict(
        flow_problems({"cart": flow}, BUILTIN_EVENT_TYPES, {Channel.EMAIL: {Purpose.MARKETING}})
    )
    assert "unknown event type 'cart.abandonned'" in problems["scenarios.cart.trigger"]
    assert "scenarios.cart.cancel_if.0" not in problems
    assert "acme.points" in problems["scenarios.cart.cancel_if.1"]
    assert "scenarios.cart.steps.0" not in problems
    assert problems["scenarios.cart.steps.1"] == "no enabled brick sends marketing messages on push"
    # A plugin's type is known once registered.
    known = {*BUILTIN_EVENT_TYPES, "acme.points", "cart.abandonned"}
    assert flow_problems({"cart": flow}, known) == []


@pytest.mark.parametrize("text", ["0", "0s", "0h0m", "PT0S", "P0D"])
def test_delays_may_be_zero(text: str) -> None:
    assert parse_delay(text) == timedelta(0)
    assert (
        ScenarioFlow.model_validate(
            {"trigger": "a.b", "channels": ["email"], "steps": [{"delay": text, "template": "t"}]}
        ).model_dump(mode="json")["steps"][0]["delay"]
        == "0s"
    )


@pytest.mark.parametrize("text", ["", "P", "-1s", "1 month", "soon"])
def test_bad_delays_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_delay(text)


# -- conditions ------------------------------------------------------------------------------

numbers = st.decimals(min_value=-(10**6), max_value=10**6, places=2, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(actual=numbers, bound=numbers, as_text=st.booleans())
def test_numeric_conditions_compare_as_decimals(actual: Decimal, bound: Decimal, as_text: bool):
    payload = {"total": str(actual) if as_text else float(actual)}
    value = float(bound)
    expected = {
        "gt": actual > Decimal(str(value)),
        "gte": actual >= Decimal(str(value)),
        "lt": actual < Decimal(str(value)),
        "lte": actual <= Decimal(str(value)),
    }
    if not as_text:  # a float payload is compared through its shortest repr
        expected = {k: v for k, v in expected.items() if Decimal(str(float(actual))) == actual}
    for op, result in expected.items():
        assert Condition(field="total", op=op, value=value).matches(payload) is result


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
payloads = st.recursive(
    json_leaf,
    lambda inner: st.dictionaries(st.sampled_from(["a", "b", "total"]), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(payload=payloads, value=st.one_of(st.integers(-3, 3), st.text(max_size=2), st.booleans()))
def test_conditions_never_raise_and_ne_is_not_eq(payload: object, value: object) -> None:
    data = payload if isinstance(payload, dict) else {"a": payload}
    for path in ("a", "a.b", "total"):
        eq = Condition(field=path, op="eq", value=value).matches(data)
        ne = Condition(field=path, op="ne", value=value).matches(data)
        assert eq is not ne
        exists = Condition(field=path, op="exists", value=True).matches(data)
        assert Condition(field=path, op="exists", value=False).matches(data) is not exists
        assert Condition(field=path, op="in", value=[value]).matches(data) is eq


def test_condition_values_are_checked() -> None:
    with pytest.raises(ValidationError, match="non-empty list"):
        Condition(field="total", op="in", value=3)
    with pytest.raises(ValidationError, match="one value"):
        Condition(field="total", op="eq", value=[1])
    with pytest.raises(ValidationError, match=r"should match pattern"):
        Condition(field="items[0]", op="exists")
    assert Condition(field="shipping.country", op="in", value=["FR", "BE"]).matches(
        {"shipping": {"country": "BE"}}
    )
    assert not Condition(field="flag", op="eq", value=1).matches({"flag": True})


def test_template_variables_are_checked_against_the_trigger_payload(tmp_path: Path) -> None:
    def flow(variables: list[str], trigger: str = "cart.abandoned") -> ScenarioSettings:
        return ScenarioSettings.model_validate(
            {
                "trigger": trigger,
                "channels": ["email"],
                "steps": [{"template": "t"}],
                "variables": variables,
            }
        )

    good = ["cart_url", "total", "currency", "updated_at"]
    assert flow_problems({"cart": flow(good)}, BUILTIN_EVENT_TYPES) == []
    profile = ["contact.first_name", "contact.locale", "contact.attributes.tier"]
    assert flow_problems({"p": flow(profile, "customer.updated")}, BUILTIN_EVENT_TYPES) == []
    bad = ["totl", "items", "items.sku", "total.amount"]
    problems = dict(flow_problems({"cart": flow(bad)}, BUILTIN_EVENT_TYPES))
    assert problems["scenarios.cart.variables.0"].startswith("no field 'totl' in the payload")
    assert "cart_url" in problems["scenarios.cart.variables.0"]
    assert "not a single value" in problems["scenarios.cart.variables.1"]
    assert "'items' is a list" in problems["scenarios.cart.variables.2"]
    assert "'total' is a single value" in problems["scenarios.cart.variables.3"]
    # A type known only by name (no model at hand) is not checked further.
    assert flow_problems({"cart": flow(bad)}, set(BUILTIN_EVENT_TYPES)) == []
    # In config: paths are dotted names, each once, and only with a trigger.
    base = '[scenarios.x]\ntrigger = "cart.abandoned"\nchannels = ["email"]\n'
    base += 'steps = [{template = "t"}]\n'
    assert "scenarios.x.variables.0" in _problems(tmp_path, base + 'variables = ["a b"]\n')
    twice = _problems(tmp_path, base + 'variables = ["total", "total"]\n')
    assert "each variable once" in twice["scenarios.x.variables"]
    idle = '[scenarios.x]\ninactivity = {after = "90d", events = ["order.placed"]}\n'
    idle += 'channels = ["email"]\nsteps = [{template = "t"}]\nvariables = ["total"]\n'
    assert "give a trigger" in _problems(tmp_path, idle)["scenarios.x"]


@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c"]),
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers()
            | st.floats(allow_nan=False)
            | st.text(max_size=5)
            | st.decimals(allow_nan=False, allow_infinity=False),
            lambda inner: (
                st.lists(inner, max_size=2)
                | st.dictionaries(st.sampled_from("abc"), inner, max_size=2)
            ),
            max_leaves=6,
        ),
    )
)
@settings(max_examples=200, deadline=None)
def test_only_allow_listed_scalars_are_extracted(payload: dict) -> None:
    from hub.scenarios.variables import extract_variables

    paths = ["a", "b.c", "c.a.b"]
    found = extract_variables(payload, paths)
    assert set(found) <= set(paths)
    for path, value in found.items():
        assert isinstance(value, str | int | float | bool)
        current = payload
        for key in path.split("."):
            current = current[key]
        assert value == (str(current) if isinstance(current, Decimal) else current)
