"""A well-behaved HTTP brick passes every check of HttpBrickConformance."""

from __future__ import annotations

from hub.plugins import build_plugin_host
from tests.testing.fake_http import FakeMail, FakeMailSuite


class _Registrar:
    from hub.sdk import hookimpl

    @hookimpl
    def hub_register_bricks(self, register) -> None:
        register(FakeMail)


class TestFakeMailConformance(FakeMailSuite):
    """The whole suite, collected by pytest exactly as a brick's test module would be."""

    def test_registered_through_entry_point(self) -> None:
        # The fake is not an installed distribution: register it the way a plugin would.
        host = build_plugin_host(load_entry_points=False, extra_plugins=[("fake", _Registrar())])
        assert host.bricks()["fakemail"].cls is FakeMail

    def test_listed_by_hub_plugins_list(self) -> None:
        host = build_plugin_host(load_entry_points=False, extra_plugins=[("fake", _Registrar())])
        assert FakeMail.describe()["name"] in host.bricks()
