"""A throw-away hub installation for tests: config file, fresh keys, migrated database."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hub.identity.keys import generate_key
from hub.runtime import Runtime, open_runtime
from hub.storage.db import upgrade

__all__ = ["Installation", "make_installation"]


@dataclass(frozen=True)
class Installation:
    root: Path
    config: Path

    def runtime(self) -> Runtime:
        return open_runtime(self.config)


def make_installation(
    root: Path,
    *,
    bricks: str = "",
    database_url: str | None = None,
    extra: str = "",
    migrate: bool = True,
) -> Installation:
    """Write ``root/hub.toml`` with key files and (by default) migrate the database.

    :param bricks: TOML text appended to the config (``[bricks.x]`` sections).
    :param database_url: default: SQLite file in ``root/data``.
    """
    keys = root / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    for name in ("pepper", "master_key", "pseudonym_key"):
        path = keys / name
        if not path.exists():
            path.write_text(generate_key(), encoding="ascii")
    env_url = ""
    if database_url:
        (keys / "database_url").write_text(database_url, encoding="utf-8")
        env_url = f'database_url = {{file = "{(keys / "database_url").as_posix()}"}}\n'
    config = root / "hub.toml"
    config.write_text(
        f'data_dir = "{(root / "data").as_posix()}"\n'
        f"{env_url}"
        f"{extra}\n"
        "[security]\n"
        f'pepper = {{file = "{(keys / "pepper").as_posix()}"}}\n'
        f'master_key = {{file = "{(keys / "master_key").as_posix()}"}}\n'
        f'pseudonym_key = {{file = "{(keys / "pseudonym_key").as_posix()}"}}\n'
        "\n[identity]\n"
        'default_region = "FR"\n\n'
        f"{bricks}\n",
        encoding="utf-8",
    )
    installation = Installation(root, config)
    if migrate:
        runtime = installation.runtime()
        upgrade(runtime.engine)
        runtime.engine.dispose()
    return installation
