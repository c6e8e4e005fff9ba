"""The conformance kit every brick's tests use (also a pytest plugin, loaded automatically).

One line gives a brick the standard suite::

    from hub.testing import BrickConformance
    from acme_hub import AcmeBrick

    class TestAcme(BrickConformance):
        brick = AcmeBrick
        settings = {"api_key": "test-key-123456"}   # a valid Settings example

Later issues add HTTP, webhook and vendor-spec checks to the same base class.
"""

from hub.testing.conformance import BrickConformance
from hub.testing.installation import Installation, make_installation

__all__ = ["BrickConformance", "Installation", "make_installation"]
