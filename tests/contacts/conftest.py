"""A migrated runtime on each backend for the contact tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from hub.runtime import Runtime
from hub.testing import Installation


@pytest.fixture
def runtime(installation: Installation) -> Iterator[Runtime]:
    opened = installation.runtime()
    yield opened
    asyncio.run(opened.aclose())
