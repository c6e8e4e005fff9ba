"""Scenarios: flows declared in ``[scenarios.*]`` that turn customer events into due jobs.

Kept import-light on purpose: ``hub.pressure.rules`` composes the flow model from
``hub.scenarios.model``, so this package must not pull in the runtime or storage.
"""
