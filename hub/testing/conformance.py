"""Static conformance checks for a Brick class: metadata, settings, registration.

Subclass ``BrickConformance`` in a test module (class name starting with ``Test``) and set
``brick`` and ``settings``; pytest collects every check below for that brick.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import SecretStr, ValidationError

from contracts import (
    BRICK_NAME_PATTERN,
    CAPABILITY_PROTOCOLS,
    RESERVED_SETTING_NAMES,
    Brick,
    BrickContext,
    Capability,
)
from hub.config.secrets import secret_field_patterns
from hub.plugins import build_plugin_host, check_brick
from hub.testing.samples import PUBLIC_BASE_URL

__all__ = ["BrickConformance"]

_SECRET_NAME = re.compile(r"(key|token|secret|password|passwd|credential)", re.I)
_NOT_SECRET_SUFFIXES = ("_url", "_id", "_path", "_header", "_name")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+([.-].+)?$")
SENTINEL = "conformance-secret-0123456789"


class BrickConformance:
    """The standard suite; every bundled and third-party brick passes it."""

    brick: ClassVar[type[Brick]]
    #: A valid example of the brick's settings (secrets as plain strings).
    settings: ClassVar[dict[str, Any]] = {}

    # -- metadata ------------------------------------------------------------------------------
    def test_metadata_complete(self) -> None:
        cls = self.brick
        assert BRICK_NAME_PATTERN.fullmatch(cls.name), "name must be lower snake case"
        assert _SEMVER.match(cls.version), "version must be semantic (1.2.3)"
        assert len(cls.description or "") >= 10, "describe the brick in a sentence"
        assert cls.capabilities, "declare at least one capability"
        if Capability.SENDER in cls.capabilities:
            assert cls.channels, "a Sender must declare the channels it serves"
        assert cls.purposes, "declare the purposes the brick processes data for"
        assert cls.batch_size >= 1
        json.dumps(cls.describe())  # metadata is plain data

    def test_contract_accepted_by_core(self) -> None:
        check_brick(self.brick, plugin="conformance")

    def test_capabilities_implemented(self) -> None:
        for capability in self.brick.capabilities:
            protocol = CAPABILITY_PROTOCOLS[capability]
            instance = self.brick(self._settings(), self._context())
            assert isinstance(instance, protocol), f"{capability.value} protocol not implemented"

    # -- settings ------------------------------------------------------------------------------
    def _settings(self) -> Any:
        return self.brick.Settings(**self.settings)

    def _context(self) -> BrickContext:
        return BrickContext(
            name=self.brick.name,
            data_dir=Path(tempfile.mkdtemp()),
            public_base_url=PUBLIC_BASE_URL,  # bricks putting callback URLs in requests need it
        )

    def test_settings_example_is_valid(self) -> None:
        built = self._settings()
        dumped = {
            k: v.get_secret_value() if isinstance(v, SecretStr) else v
            for k, v in dict(built).items()
        }
        assert self.brick.Settings(**dumped) == built, "settings must round-trip"

    def test_settings_forbid_unknown_keys(self) -> None:
        with pytest.raises(ValidationError) as caught:
            self.brick.Settings(**self.settings, conformance_unknown_key=1)
        assert caught.value.errors()[0]["type"] == "extra_forbidden"

    def test_settings_do_not_use_core_keys(self) -> None:
        assert not RESERVED_SETTING_NAMES & set(self.brick.Settings.model_fields)

    def test_secret_looking_settings_are_secret(self) -> None:
        secret_fields = {p[0] for p in secret_field_patterns(self.brick.Settings)}
        for name in self.brick.Settings.model_fields:
            if _SECRET_NAME.search(name) and not name.endswith(_NOT_SECRET_SUFFIXES):
                assert name in secret_fields, f"{name} looks secret: declare it SecretStr"

    def test_secrets_are_masked(self) -> None:
        secret_fields = [p[0] for p in secret_field_patterns(self.brick.Settings) if len(p) == 1]
        values = {**self.settings, **{name: SENTINEL for name in secret_fields}}
        built = self.brick.Settings(**values)
        instance = self.brick(built, self._context())
        for text in (
            repr(built),
            str(built),
            built.model_dump_json(),
            repr(instance),
            json.dumps(self.brick.describe()),
        ):
            assert SENTINEL not in text

    # -- registration --------------------------------------------------------------------------
    def test_registered_through_entry_point(self) -> None:
        registered = build_plugin_host().bricks()
        assert self.brick.name in registered, "add the brick to the `hub` entry-point group"
        assert registered[self.brick.name].cls is self.brick

    def test_listed_by_hub_plugins_list(
        self, tmp_path: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from hub.cli.main import main

        config = tmp_path / "hub.toml"
        config.write_text(f'data_dir = "{tmp_path.as_posix()}"\n', encoding="utf-8")
        assert main(["--config", str(config), "plugins", "list", "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        names = {row["name"]: row for row in rows}
        assert self.brick.name in names
        expected = sorted(c.value for c in self.brick.capabilities)
        assert names[self.brick.name]["capabilities"] == expected
