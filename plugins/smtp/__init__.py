"""The bundled ``smtp`` brick: email through any SMTP server, rendered from local templates.

Standard library only (``smtplib`` in a worker thread, ``email.message``): STARTTLS or implicit
TLS, optional AUTH, Message-ID, RFC 8058 one-click List-Unsubscribe for marketing mail, and the
brick's pseudonym in a header so bounces can be mapped back without the hub's customer id.
"""

from collections.abc import Callable

from contracts import Brick
from hub.sdk import hookimpl
from plugins.smtp.brick import SmtpBrick

__all__ = ["SmtpBrick", "hub_register_bricks"]


@hookimpl
def hub_register_bricks(register: Callable[[type[Brick]], None]) -> None:
    """Hand the core the SMTP brick class, exactly as a third-party brick would."""
    register(SmtpBrick)
