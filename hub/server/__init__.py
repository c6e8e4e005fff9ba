"""The hub's HTTP server (``hub serve``): event intake, vendor webhooks, health, metrics."""

from hub.server.app import create_app

__all__ = ["create_app"]
