"""The bundled ``unomi`` brick: Apache Unomi 2.x as identity-link source and audience sink.

Reads verifying events (``login`` by default) with ``POST /cxs/events/search`` and turns each
into an identity link between Unomi's profile id (the ``context-profile-id`` site cookie) and
the email / shop / CRM / partner ids the event carries. Pushes hub audiences onto Unomi
profiles: an alias per member (its pseudonym) and an ``updateProperties`` flag per profile, so
Unomi segments can use them. See docs/bricks/unomi.md.
"""

from collections.abc import Callable

from contracts import Brick
from hub.sdk import hookimpl
from plugins.unomi.brick import UnomiBrick

__all__ = ["UnomiBrick", "hub_register_bricks"]


@hookimpl
def hub_register_bricks(register: Callable[[type[Brick]], None]) -> None:
    """Hand the core the Unomi brick class, exactly as a third-party brick would."""
    register(UnomiBrick)
