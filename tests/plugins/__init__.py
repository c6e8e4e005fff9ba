"""Core tests that exercise bundled bricks end to end through the hub."""
