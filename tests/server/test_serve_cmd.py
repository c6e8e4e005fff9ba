"""``hub serve``: checks the runtime before listening, runs uvicorn through the hub's logging."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

import hub.cli.serve_cmd as serve_cmd
from hub.testing import make_installation


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def run(app: Any, **options: Any) -> None:
        calls.append({"app": app, **options})

    monkeypatch.setattr(serve_cmd.uvicorn, "run", run)
    return calls


def test_serve_runs_uvicorn_without_access_log(
    sqlite_installation: Any, run_cli: Any, uvicorn_calls: list[dict[str, Any]]
) -> None:
    result = run_cli("--config", str(sqlite_installation.config), "serve", "--port", "8123")
    assert result.code == 0, result.err
    [call] = uvicorn_calls
    assert isinstance(call["app"], Starlette)
    assert (call["host"], call["port"]) == ("127.0.0.1", 8123)
    assert call["log_config"] is None and call["access_log"] is False
    assert call["proxy_headers"] is False
    assert "api_token" in result.err  # warned: /events is closed without one


def test_serve_defaults_and_host_option(
    sqlite_installation: Any, run_cli: Any, uvicorn_calls: list[dict[str, Any]]
) -> None:
    run_cli("--config", str(sqlite_installation.config), "serve", "--host", "0.0.0.0")
    assert (uvicorn_calls[0]["host"], uvicorn_calls[0]["port"]) == ("0.0.0.0", 8000)


@pytest.mark.parametrize("args", [["--port", "70000"], ["--port", "0"], ["--host", " "]])
def test_bad_options_exit_2(
    sqlite_installation: Any, run_cli: Any, uvicorn_calls: list[dict[str, Any]], args: list[str]
) -> None:
    result = run_cli("--config", str(sqlite_installation.config), "serve", *args)
    assert result.code == 2 and args[0] in result.err and uvicorn_calls == []


def test_an_unmigrated_database_stops_before_listening(
    tmp_path: Path, run_cli: Any, uvicorn_calls: list[dict[str, Any]]
) -> None:
    installation = make_installation(tmp_path / "hub", migrate=False)
    result = run_cli("--config", str(installation.config), "serve")
    assert result.code == 2 and "hub db upgrade" in result.err and uvicorn_calls == []


def test_server_settings_defaults_and_checks() -> None:
    from pydantic import SecretStr, ValidationError

    from hub.config.model import ServerSettings

    defaults = ServerSettings()
    assert (defaults.host, defaults.port, defaults.max_body_bytes) == ("127.0.0.1", 8000, 1 << 20)
    assert defaults.api_token is None and defaults.metrics and not defaults.trust_forwarded_headers
    for bad in ({"api_token": SecretStr("short")}, {"port": 0}, {"max_body_bytes": 10}, {"x": 1}):
        with pytest.raises(ValidationError):
            ServerSettings(**bad)  # type: ignore[arg-type]
