"""A well-behaved webhook brick passes every check of WebhookConformance."""

from __future__ import annotations

from hub.plugins import build_plugin_host
from hub.sdk import hookimpl
from tests.testing.fake_webhook import FakeHook, FakeHookSuite


class _Registrar:
    @hookimpl
    def hub_register_bricks(self, register) -> None:
        register(FakeHook)


class TestFakeHookConformance(FakeHookSuite):
    """The whole suite, collected by pytest exactly as a brick's test module would be."""

    def test_registered_through_entry_point(self) -> None:
        # The fake is not an installed distribution: register it the way a plugin would.
        host = build_plugin_host(load_entry_points=False, extra_plugins=[("fake", _Registrar())])
        assert host.bricks()["fakehook"].cls is FakeHook

    def test_listed_by_hub_plugins_list(self) -> None:
        host = build_plugin_host(load_entry_points=False, extra_plugins=[("fake", _Registrar())])
        assert [c.value for c in host.bricks()["fakehook"].cls.capabilities] == ["webhook_receiver"]
