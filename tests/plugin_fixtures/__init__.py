"""Fake plugin modules for ``tests/test_plugins.py``, shaped like real third-party plugins.

Each module here is what an integrator would point an entry point at; the tests register them
directly with ``build_plugin_host(extra_plugins=[(name, module)])`` instead of installing them.
"""
