"""The bundled ``outbox`` brick: a Sender that writes messages to a JSON-lines file.

It delivers nothing; dry runs, the offline demo and tests use it to see exactly what the core
would have sent (and to which minimised view) without any vendor account.
"""

from collections.abc import Callable

from contracts import Brick
from hub.sdk import hookimpl
from plugins.outbox.brick import OutboxBrick

__all__ = ["OutboxBrick", "hub_register_bricks"]


@hookimpl
def hub_register_bricks(register: Callable[[type[Brick]], None]) -> None:
    """Hand the core the outbox brick class, exactly as a third-party brick would."""
    register(OutboxBrick)
