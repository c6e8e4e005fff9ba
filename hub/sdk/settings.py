"""Setting types a brick's ``Settings`` shares with the central config.

``Duration`` is the one duration grammar of the whole config file: ``"30m"``, ``"1h"``,
``"1d12h"``, ``"7d"`` or ISO 8601 ``"PT1H"``; months and years are refused (their length
varies); positive, whole seconds; shown back in the same compact form by ``hub config show``
and in the JSON Schema. A brick declaring ``abandonment_delay: Duration`` reads exactly like
``[identity] link_ttl`` to the person writing ``hub.toml``.
"""

from hub.durations import Duration, format_duration, parse_duration

__all__ = ["Duration", "format_duration", "parse_duration"]
