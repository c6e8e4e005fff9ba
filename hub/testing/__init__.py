"""The conformance kit every brick's tests use (also a pytest plugin, loaded automatically).

A brick's test suite is one subclass of the kit (plus brick-specific cases elsewhere)::

    from hub.testing import BrickConformance
    from acme_hub import AcmeBrick

    class TestAcme(BrickConformance):
        brick = AcmeBrick
        settings = {"api_key": "test-key-123456"}   # a valid Settings example

- ``BrickConformance``: static checks (metadata, settings, secrets masked, registration).
- ``HttpBrickConformance``: for bricks calling a vendor over HTTP. List the brick's operations
  as ``Exchange``s; the kit runs each under respx (every request must be mocked) and checks
  golden request snapshots, the minimal view, the hub id, the error matrix, the idempotency key,
  the vendor's published spec (``vendor_spec``, when ``$HUB_VENDOR_SPECS`` is set) and, for a
  Sender, one send end to end through the core.
- ``WebhookConformance``: for ``WEBHOOK_RECEIVER`` bricks. Genuine ``WebhookSample``s parse to
  the expected outcomes; tampered, unsigned and stale calls are rejected; hypothesis fuzzes
  bodies.
- ``hub.testing.samples``: distinctive contact values, ``full_view`` / ``view_with``,
  ``make_send_request`` with fixed ids and time.
- ``hub.testing.vendor_specs``: ``load_vendor_spec`` validates ``httpx`` requests and responses
  against a vendor's OpenAPI (or Swagger 2.0) document.
- ``make_installation``: a throw-away hub installation (config, keys, migrated database).

The guide is ``docs/writing-a-brick.md``.
"""

from hub.testing.conformance import BrickConformance
from hub.testing.exchanges import Exchange, ExchangeRun
from hub.testing.http_conformance import HttpBrickConformance
from hub.testing.installation import Installation, make_installation
from hub.testing.samples import (
    HUB_ID_PATTERN,
    PSEUDONYM,
    PUBLIC_BASE_URL,
    full_view,
    make_send_request,
    view_with,
)

__all__ = [
    "HUB_ID_PATTERN",
    "PSEUDONYM",
    "PUBLIC_BASE_URL",
    "BrickConformance",
    "Exchange",
    "ExchangeRun",
    "HttpBrickConformance",
    "Installation",
    "full_view",
    "make_installation",
    "make_send_request",
    "view_with",
]
