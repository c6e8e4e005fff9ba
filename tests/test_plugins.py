"""The plugin host: factory isolation, entry points, blocking, loud failures, guarded observers.

Fake plugins are modules in ``tests/plugin_fixtures`` shaped like real third-party plugins,
plugin objects from ``tests/plugin_fixtures/objects.py``, or small classes defined in a test:
pluggy accepts any object with ``@hookimpl`` methods.
The last tests keep ``docs/plugin_hooks.md`` honest: a hook without docs or a test fails CI.
"""

from __future__ import annotations

import inspect
import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
import typer
from pydantic import BaseModel, ConfigDict
from typer.testing import CliRunner

from contracts import BUILTIN_EVENT_TYPES
from hub import hookspecs
from hub.logs import configure_logging
from hub.plugins import PluginError, PluginHost, build_plugin_host
from hub.sdk import hookimpl
from hub.testing import make_installation
from plugins.outbox import OutboxBrick
from tests.plugin_fixtures import acme, misspelt
from tests.plugin_fixtures.objects import (
    LooseSettings,
    Recorder,
    RegistersBricks,
    RegistersEventType,
    ReservedKeySettings,
    brick_class,
)

TESTS_DIR = Path(__file__).resolve().parent
DOCS = TESTS_DIR.parent / "docs" / "plugin_hooks.md"


def host_with(*plugins: tuple[str, object]) -> PluginHost:
    """A host holding only the given plugins (no entry points), so tests stay hermetic."""
    return build_plugin_host(load_entry_points=False, extra_plugins=plugins)


# -- factory isolation and entry points ------------------------------------------------------


def test_two_hosts_do_not_share_registrations() -> None:
    with_acme = host_with(("acme", acme))
    without = host_with()

    assert with_acme.pm is not without.pm
    assert "acme_mail" in with_acme.bricks()
    assert without.bricks() == {}
    assert without.pm.get_plugin("acme") is None
    assert "acme.points_earned" not in without.event_types()


def test_the_same_plugin_module_can_live_in_several_hosts() -> None:
    # A global manager would refuse the second registration of the same module object.
    first, second = host_with(("acme", acme)), host_with(("acme", acme))
    assert first.bricks()["acme_mail"].cls is second.bricks()["acme_mail"].cls is acme.AcmeMail


def test_plugins_reports_the_hooks_each_plugin_implements() -> None:
    info = {i.name: i for i in host_with(("acme", acme)).plugins()}["acme"]
    assert info.hooks == (
        "hub_register_bricks",
        "hub_register_commands",
        "hub_register_event_types",
    )
    assert (info.blocked, info.distribution) == (False, None)


def test_bundled_outbox_loads_through_its_entry_point() -> None:
    host = build_plugin_host()

    registered = host.bricks()["outbox"]
    assert registered.cls is OutboxBrick
    assert registered.plugin == "outbox"
    assert host.entry_points["outbox"].value == "plugins.outbox"
    info = {i.name: i for i in host.plugins()}["outbox"]
    assert info.blocked is False
    assert info.distribution == "marketing-hub"
    assert info.hooks == ("hub_register_bricks",)


def test_blocked_outbox_is_not_loaded_but_still_reported() -> None:
    host = build_plugin_host(blocked=["outbox"])

    assert "outbox" not in host.bricks()
    assert host.pm.get_plugin("outbox") is None
    info = {i.name: i for i in host.plugins()}["outbox"]
    assert info.blocked is True
    assert info.distribution == "marketing-hub"
    assert info.hooks == ()


def test_blocking_applies_to_directly_registered_plugins_too() -> None:
    host = build_plugin_host(
        load_entry_points=False, blocked=["acme"], extra_plugins=[("acme", acme)]
    )
    assert host.bricks() == {}
    assert [(i.name, i.blocked) for i in host.plugins()] == [("acme", True)]


@pytest.mark.parametrize(
    ("bricks", "extra", "status"),
    [
        pytest.param("[bricks.outbox]\n", "", "enabled", id="enabled"),
        pytest.param("", "", "disabled", id="no-section"),
        pytest.param("", '[plugins]\nblocked = ["outbox"]\n', "blocked", id="blocked"),
    ],
)
def test_cli_plugins_list_reports_outbox_status(
    run_cli: Any, tmp_path: Path, bricks: str, extra: str, status: str
) -> None:
    installation = make_installation(tmp_path / "hub", bricks=bricks, extra=extra, migrate=False)

    result = run_cli("--config", str(installation.config), "plugins", "list", "--json")

    assert result.code == 0, result.err
    rows = {row["name"]: row for row in json.loads(result.out)}
    assert rows["outbox"]["status"] == status
    assert rows["outbox"]["distribution"] == "marketing-hub"


# -- loud failures at start-up ---------------------------------------------------------------



def test_misspelt_hook_fails_naming_plugin_hook_and_fix() -> None:
    with pytest.raises(PluginError) as caught:
        host_with(("misspelt", misspelt))
    message = str(caught.value)
    assert "'misspelt'" in message
    assert "'hub_register_brick'" in message
    assert "did you mean 'hub_register_bricks'" in message


def test_optional_hooks_from_newer_plugins_are_tolerated() -> None:
    class FromTheFuture:
        @hookimpl(optionalhook=True)
        def hub_register_widgets(self, register: Any) -> None:
            raise AssertionError("never called")

    host = host_with(("future", FromTheFuture()))
    assert host.pm.get_plugin("future") is not None


def test_hookimpl_argument_missing_from_the_spec_fails_naming_plugin() -> None:
    class ExtraArgument:
        @hookimpl
        def hub_register_bricks(self, register: Any, registry: Any) -> None:
            raise AssertionError("never called")

    with pytest.raises(PluginError, match=r"plugin 'extra_arg'") as caught:
        host_with(("extra_arg", ExtraArgument()))
    assert "registry" in str(caught.value)


def test_brick_class_factory_builds_a_valid_brick() -> None:
    # The control for the rejection cases below: only their one change makes them fail.
    assert host_with(("acme", RegistersBricks(brick_class()))).bricks()["custom"].plugin == "acme"


@pytest.mark.parametrize(
    ("cls", "problem"),
    [
        pytest.param(
            brick_class(base=object), "is not a subclass of contracts.Brick", id="no-brick"
        ),
        pytest.param(brick_class(drop=("version",)), "attribute 'version'", id="no-version"),
        pytest.param(brick_class(name="Bad-Name"), "name 'Bad-Name'", id="bad-name"),
        pytest.param(
            brick_class(drop=("send_batch",)),
            "declares sender but does not implement send_batch",
            id="capability-without-method",
        ),
        pytest.param(brick_class(Settings=LooseSettings), "extra='forbid'", id="loose-settings"),
        pytest.param(
            brick_class(Settings=ReservedKeySettings), "core keys ['enabled']", id="reserved-key"
        ),
    ],
)
def test_bad_brick_class_is_rejected_naming_plugin(cls: type, problem: str) -> None:
    host = host_with(("shoddy", RegistersBricks(cls)))
    with pytest.raises(PluginError) as caught:
        host.bricks()
    assert "plugin 'shoddy'" in str(caught.value)
    assert problem in str(caught.value)


def test_two_plugins_registering_one_brick_name_fail_naming_both() -> None:
    host = host_with(("first", RegistersBricks(brick_class())), ("second", acme))
    host_dup = host_with(
        ("first", acme), ("second", RegistersBricks(brick_class(name="acme_mail")))
    )
    assert set(host.bricks()) == {"custom", "acme_mail"}
    with pytest.raises(PluginError, match="'acme_mail' is already registered") as caught:
        host_dup.bricks()
    assert "'first'" in str(caught.value)
    assert "'second'" in str(caught.value)


def test_third_party_brick_cannot_take_the_bundled_outbox_name() -> None:
    host = build_plugin_host(
        extra_plugins=[("impostor", RegistersBricks(brick_class(name="outbox")))]
    )
    with pytest.raises(PluginError, match=r"brick name 'outbox' is already registered"):
        host.bricks()


def test_registration_hook_that_raises_fails_naming_plugin() -> None:
    class Broken:
        @hookimpl
        def hub_register_bricks(self, register: Any) -> None:
            raise ImportError("acme-sdk is not installed")

    with pytest.raises(PluginError) as caught:
        host_with(("broken", Broken())).bricks()
    assert "plugin 'broken'" in str(caught.value)
    assert "acme-sdk is not installed" in str(caught.value)


# -- event types -----------------------------------------------------------------------------


def test_plugin_event_type_joins_the_builtins() -> None:
    types = host_with(("acme", acme)).event_types()

    assert types["acme.points_earned"] is acme.PointsEarned
    for builtin in ("cart.abandoned", "order.placed", "customer.signed_up", "customer.updated"):
        assert types[builtin] is BUILTIN_EVENT_TYPES[builtin]


class SomePayload(BaseModel):
    model_config = ConfigDict(extra="forbid")


@pytest.mark.parametrize(
    ("name", "model"),
    [
        pytest.param("points_earned", SomePayload, id="not-namespaced"),
        pytest.param("Acme.Points", SomePayload, id="not-snake-case"),
        pytest.param("cart.abandoned", SomePayload, id="shadows-builtin"),
        pytest.param("acme.points_earned", dict, id="not-a-model"),
    ],
)
def test_bad_event_type_fails_naming_plugin(name: str, model: Any) -> None:
    host = host_with(("acme_events", RegistersEventType(name, model)))
    with pytest.raises(PluginError, match=r"plugin 'acme_events'"):
        host.event_types()


def test_event_type_registered_twice_fails() -> None:
    host = host_with(
        ("acme", acme), ("copycat", RegistersEventType("acme.points_earned", SomePayload))
    )
    with pytest.raises(PluginError, match=r"'acme.points_earned' already exists"):
        host.event_types()


# -- observers -------------------------------------------------------------------------------


OBSERVER_CALLS: dict[str, dict[str, Any]] = {
    "hub_event_received": {"event": object()},
    "hub_send_decided": {"request": object(), "decision": object()},
    "hub_send_completed": {"brick": "outbox", "request": object(), "result": object()},
    "hub_outcome_recorded": {"brick": "outbox", "outcome": object()},
    "hub_sync_completed": {"summary": object()},
}


def test_every_observer_hook_is_covered_here() -> None:
    assert set(OBSERVER_CALLS) == set(hookspecs.OBSERVER_HOOKS)


@pytest.mark.parametrize("hook", list(OBSERVER_CALLS))
def test_notify_passes_arguments_by_name(hook: str) -> None:
    recorder = Recorder()
    host_with(("recorder", recorder)).notify(hook, **OBSERVER_CALLS[hook])
    assert recorder.calls == [(hook, OBSERVER_CALLS[hook])]


def test_observer_may_accept_fewer_arguments_than_the_spec() -> None:
    seen: list[Any] = []

    class OnlyResult:
        @hookimpl
        def hub_send_completed(self, result: Any) -> None:
            seen.append(result)

    kwargs = OBSERVER_CALLS["hub_send_completed"]
    host_with(("only_result", OnlyResult())).notify("hub_send_completed", **kwargs)
    assert seen == [kwargs["result"]]


@pytest.mark.parametrize("hook", ["hub_register_bricks", "hub_register_commands", "hub_nope"])
def test_notify_refuses_non_observer_hooks(hook: str) -> None:
    with pytest.raises(ValueError, match="is not an observer hook"):
        host_with(("recorder", Recorder())).notify(hook, register=print, app=None)


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """The production logging pipeline writing JSON lines into a buffer; restored after."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging(stream=stream, json_output=True)
    yield stream
    structlog.reset_defaults()
    logging.captureWarnings(False)
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


def test_failing_observer_is_logged_and_never_propagates(log_stream: io.StringIO) -> None:
    class Broken:
        @hookimpl
        def hub_event_received(self, event: Any) -> None:
            raise RuntimeError("observer is down")

    # Healthy observers on both sides, so one runs after the failure whatever the order.
    before, after = Recorder(), Recorder()
    host = host_with(("before", before), ("broken", Broken()), ("after", after))
    event = OBSERVER_CALLS["hub_event_received"]["event"]

    host.notify("hub_event_received", event=event)

    assert before.calls == after.calls == [("hub_event_received", {"event": event})]
    records = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    failures = [r for r in records if r["event"] == "plugin observer failed"]
    assert len(failures) == 1
    assert failures[0]["level"] == "error"
    assert failures[0]["plugin"] == "broken"
    assert failures[0]["hook"] == "hub_event_received"
    assert failures[0]["error_type"] == "RuntimeError"


def test_notify_honours_tryfirst_like_pluggy() -> None:
    order: list[str] = []

    class First:
        @hookimpl(tryfirst=True)
        def hub_sync_completed(self, summary: Any) -> None:
            order.append("first")

    class Other:
        @hookimpl
        def hub_sync_completed(self, summary: Any) -> None:
            order.append("other")

    host_with(("first", First()), ("other", Other())).notify("hub_sync_completed", summary=None)
    assert order[0] == "first"


# -- commands --------------------------------------------------------------------------------


def fresh_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """A group, like ``hub``, so commands are invoked by name."""

    return app


def test_plugin_adds_a_cli_command() -> None:
    app = fresh_app()
    host_with(("acme", acme)).register_commands(app)

    result = CliRunner().invoke(app, ["acme-ping"])

    assert result.exit_code == 0, result.output
    assert "acme: pong" in result.output


def test_hosts_without_the_plugin_add_no_command() -> None:
    app = fresh_app()
    host_with().register_commands(app)
    assert CliRunner().invoke(app, ["acme-ping"]).exit_code != 0


def test_command_hook_that_raises_fails_naming_plugin() -> None:
    class Broken:
        @hookimpl
        def hub_register_commands(self, app: Any) -> None:
            raise RuntimeError("no commands today")

    with pytest.raises(PluginError, match=r"plugin 'broken'"):
        host_with(("broken", Broken())).register_commands(fresh_app())


# -- docs and tests keep up with the hookspecs (the datasette practice) -----------------------

HOOKS: dict[str, Any] = {
    name: fn
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("hub_")
}


def test_hookspecs_are_discovered() -> None:
    assert {"hub_register_bricks", *hookspecs.OBSERVER_HOOKS} <= set(HOOKS)


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_is_documented_with_its_signature(name: str) -> None:
    params = ", ".join(inspect.signature(HOOKS[name]).parameters)
    assert f"## `{name}({params})`" in DOCS.read_text(encoding="utf-8").splitlines()


def test_docs_describe_no_hook_that_does_not_exist() -> None:
    documented = re.findall(r"^## `(hub_\w+)\(", DOCS.read_text(encoding="utf-8"), re.MULTILINE)
    assert sorted(documented) == sorted(HOOKS)


def _test_sources_except_these_checks() -> Iterator[str]:
    own = [
        inspect.getsource(test_hook_is_documented_with_its_signature),
        inspect.getsource(test_hook_is_exercised_by_a_test),
    ]
    for path in sorted(TESTS_DIR.rglob("test_*.py")):
        text = path.read_text(encoding="utf-8")
        if path.resolve() == Path(__file__).resolve():
            for source in own:
                text = text.replace(source, "")
        yield text


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_is_exercised_by_a_test(name: str) -> None:
    assert any(re.search(rf"\b{name}\b", text) for text in _test_sources_except_these_checks())
