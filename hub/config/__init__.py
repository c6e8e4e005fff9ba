"""Central, governed configuration: ``config/hub.toml`` + ``HUB_*`` environment variables.

Precedence, fixed in one place (``HubSettings.settings_customise_sources``): environment
variables win over the TOML file, which wins over defaults. Secrets are accepted only from the
environment or from ``{env = "NAME"}`` / ``{file = "PATH"}`` references, never inline in TOML.
"""

from hub.config.bricks import ConfiguredBrick, configure_bricks
from hub.config.loader import (
    ConfigError,
    ConfigProblem,
    find_config_path,
    load_settings,
)
from hub.config.model import (
    BrickSection,
    HubSettings,
    IdentitySettings,
    LoggingSettings,
    PluginsSettings,
    SecuritySettings,
)

__all__ = [
    "BrickSection",
    "ConfigError",
    "ConfigProblem",
    "ConfiguredBrick",
    "HubSettings",
    "IdentitySettings",
    "LoggingSettings",
    "PluginsSettings",
    "SecuritySettings",
    "configure_bricks",
    "find_config_path",
    "load_settings",
]
