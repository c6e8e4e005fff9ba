"""``[worker]``: how ``hub worker`` claims, orders and recovers scenario jobs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.durations import Duration

__all__ = ["WorkerSettings", "worker_settings"]


class WorkerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    arbitration_window: Duration = Field(
        default=timedelta(hours=1),
        description="A customer's job waits for a higher-priority one due within this window, "
        "so the most important message takes the pressure slot first.",
    )
    lease: Duration = Field(
        default=timedelta(minutes=10),
        description="A job running for longer belongs to a worker that died; it is recovered "
        "(keep it above the longest send with its retries).",
    )
    poll_interval: Duration = Field(
        default=timedelta(seconds=5), description="Pause between polls when nothing is due."
    )
    batch: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="Jobs claimed per round (all due jobs of the customers in it come along).",
    )


def worker_settings(settings: Any) -> WorkerSettings:
    """``settings.worker`` once ``[worker]`` is wired into ``HubSettings``, else the defaults."""
    found = getattr(settings, "worker", None)
    return found if isinstance(found, WorkerSettings) else WorkerSettings()
