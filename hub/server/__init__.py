"""The hub's HTTP server (``hub serve``): event intake, vendor webhooks, health, metrics."""

from hub.server.app import create_app
from hub.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]
