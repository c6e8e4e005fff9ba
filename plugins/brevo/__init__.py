"""The bundled ``brevo`` brick: Brevo (ex-Sendinblue) email, contacts and delivery webhooks.

Sends templated transactional email (``POST /v3/smtp/email``) with an idempotency key, keeps
Brevo's contacts in step keyed by the brick's pseudonym (``ext_id``), and turns Brevo's
transactional webhooks into contract outcomes. See docs/bricks/brevo.md.
"""

from collections.abc import Callable

from contracts import Brick
from hub.sdk import hookimpl
from plugins.brevo.brick import BrevoBrick

__all__ = ["BrevoBrick", "hub_register_bricks"]


@hookimpl
def hub_register_bricks(register: Callable[[type[Brick]], None]) -> None:
    """Hand the core the Brevo brick class, exactly as a third-party brick would."""
    register(BrevoBrick)
