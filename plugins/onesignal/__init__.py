"""The bundled ``onesignal`` brick: push notifications through OneSignal.

Sends target the person by the brick's pseudonym, set as OneSignal's ``external_id`` alias;
the contact sink links that alias to the person's push subscription. See docs/bricks/onesignal.md.
"""

from collections.abc import Callable

from contracts import Brick
from hub.sdk import hookimpl
from plugins.onesignal.brick import OneSignalBrick

__all__ = ["OneSignalBrick", "hub_register_bricks"]


@hookimpl
def hub_register_bricks(register: Callable[[type[Brick]], None]) -> None:
    """Hand the core the OneSignal brick class, exactly as a third-party brick would."""
    register(OneSignalBrick)
