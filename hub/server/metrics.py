"""Prometheus metrics of one server app: its own registry, labels that never carry PII.

Labels are closed sets: results (``accepted``, ``rejected``...), brick names from the
configuration, outcome types from the contract, route *templates* (``/webhooks/{brick}``) and
status codes. A path a caller invents never becomes a label (it would also let anyone grow
the registry without bound).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.events = Counter(
            "hub_events",
            "Events posted to the hub, by result (accepted, duplicate, rejected).",
            ["result"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "hub_webhooks",
            "Webhook calls, by brick and result (ok, unauthorised, rejected, too_large).",
            ["brick", "result"],
            registry=self.registry,
        )
        self.outcomes = Counter(
            "hub_outcomes",
            "Delivery outcomes stored, by reporting brick and outcome type.",
            ["brick", "type"],
            registry=self.registry,
        )
        self.requests = Counter(
            "hub_http_requests",
            "HTTP requests answered, by route template and status code.",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "hub_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["route"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
