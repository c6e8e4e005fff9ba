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

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from hub.testing.conformance import BrickConformance
from hub.testing.installation import Installation, make_installation
from hub.testing.samples import (
    HUB_ID_PATTERN,
    PSEUDONYM,
    PUBLIC_BASE_URL,
    full_view,
    make_send_request,
    view_with,
)

if TYPE_CHECKING:
    from hub.testing.exchanges import Exchange, ExchangeRun
    from hub.testing.http_conformance import HttpBrickConformance
    from hub.testing.vendor_specs import VendorSpec, load_vendor_spec
    from hub.testing.webhook_conformance import WebhookConformance, WebhookSample

# The pytest plugin imports this package in every test run of an environment where the hub is
# installed; respx, hypothesis and openapi-core are test extras, so their users load lazily.
_LAZY = {
    "Exchange": "hub.testing.exchanges",
    "ExchangeRun": "hub.testing.exchanges",
    "HttpBrickConformance": "hub.testing.http_conformance",
    "VendorSpec": "hub.testing.vendor_specs",
    "load_vendor_spec": "hub.testing.vendor_specs",
    "WebhookConformance": "hub.testing.webhook_conformance",
    "WebhookSample": "hub.testing.webhook_conformance",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hub.testing' has no attribute {name!r}")
    return getattr(import_module(module), name)


__all__ = [
    "HUB_ID_PATTERN",
    "PSEUDONYM",
    "PUBLIC_BASE_URL",
    "BrickConformance",
    "Exchange",
    "ExchangeRun",
    "HttpBrickConformance",
    "Installation",
    "VendorSpec",
    "WebhookConformance",
    "WebhookSample",
    "full_view",
    "load_vendor_spec",
    "make_installation",
    "make_send_request",
    "view_with",
]
