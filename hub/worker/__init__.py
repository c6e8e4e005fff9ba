"""``hub worker``: claims due scenario jobs and sends them through the core's send path."""

from hub.worker.loop import WorkerReport, run_worker, run_worker_async

__all__ = ["WorkerReport", "run_worker", "run_worker_async"]
