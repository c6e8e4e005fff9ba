"""Customer events: intake (validation, de-duplication, identity resolution, storage)."""
