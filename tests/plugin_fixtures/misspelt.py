"""A plugin with a typo in its hook name: ``hub_register_brick`` (no final "s")."""

from __future__ import annotations

from collections.abc import Callable

from contracts import Brick
from hub.sdk import hookimpl
from tests.plugin_fixtures.acme import AcmeMail


@hookimpl
def hub_register_brick(register: Callable[[type[Brick]], None]) -> None:
    register(AcmeMail)
