"""The hub's core runtime: config, plugin manager, identity vault, storage, CLI.

Bricks never import from here except ``hub.sdk`` (helpers) and ``hub.testing`` (conformance kit).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("marketing-hub")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
