"""Fixtures for the SMTP brick's tests: one certificate per run, templates per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.smtp.tests.server import Certificate, make_certificate
from plugins.smtp.tests.support import write_templates


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    return write_templates(tmp_path / "templates")
