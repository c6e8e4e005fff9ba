"""The outbox brick passes the standard conformance suite."""

from hub.testing import BrickConformance
from plugins.outbox import OutboxBrick


class TestOutboxConformance(BrickConformance):
    brick = OutboxBrick
    settings = {"path": "outbox.jsonl"}
