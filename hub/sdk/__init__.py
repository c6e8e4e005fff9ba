"""Public helpers for bricks: the only part of the core a brick may import (with hub.testing).

- ``hookimpl`` marks a brick module's hook implementations::

      from hub.sdk import hookimpl

      @hookimpl
      def hub_register_bricks(register):
          register(MyBrick)

- ``hub.sdk.http``: ``HttpBrickSettings``, ``build_client``, ``request`` / ``raise_for_status``
  (vendor answers and transport failures raised as contract errors, for the core to retry).
- ``hub.sdk.webhooks``: constant-time comparison, HMAC verification, replay windows.
- ``hub.sdk.settings``: ``Duration``, the one duration type of the whole config file.
"""

import pluggy

#: Project name shared by hookspecs and hookimpls; pluggy matches them on it.
PROJECT_NAME = "hub"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["PROJECT_NAME", "hookimpl"]
