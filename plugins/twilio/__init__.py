"""The bundled ``twilio`` brick: SMS through Twilio, delivery outcomes from its status callbacks.

Sends with ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (form-encoded, Basic auth),
asks Twilio to report each status change to the hub's ``/webhooks/twilio`` URL, and verifies
those callbacks with ``X-Twilio-Signature`` before mapping them to contract outcomes.
"""

from collections.abc import Callable

from contracts import Brick
from hub.sdk import hookimpl
from plugins.twilio.brick import TwilioBrick
from plugins.twilio.codes import UNSUBSCRIBED_CODES, outcome_for_error_code

__all__ = ["UNSUBSCRIBED_CODES", "TwilioBrick", "hub_register_bricks", "outcome_for_error_code"]


@hookimpl
def hub_register_bricks(register: Callable[[type[Brick]], None]) -> None:
    """Hand the core the Twilio brick class, exactly as a third-party brick would."""
    register(TwilioBrick)
