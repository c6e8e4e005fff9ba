"""JSON Schema of the whole configuration, bricks' own settings included.

Editors use it for completion and validation of ``hub.toml``; IT reviews it to see every knob.
Each installed brick gets an exact schema under ``bricks.<name>``: the core's governance keys
plus the brick's ``Settings``, with no other key allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.config.model import BrickSection, HubSettings

__all__ = ["config_json_schema"]

_SECRET_REF = {
    "title": "Secret reference",
    "description": "Secrets are never written inline: reference an environment variable or a "
    "file, or set the HUB_ environment variable.",
    "oneOf": [
        {"type": "object", "properties": {"env": {"type": "string"}}, "required": ["env"],
         "additionalProperties": False},
        {"type": "object", "properties": {"file": {"type": "string"}}, "required": ["file"],
         "additionalProperties": False},
    ],
}  # fmt: skip


def _secrets_as_refs(node: Any) -> Any:
    """pydantic renders SecretStr as a write-only string; in TOML it must be a reference."""
    if isinstance(node, dict):
        if node.get("format") == "password":
            return {"$ref": "#/$defs/SecretRef"}
        return {k: _secrets_as_refs(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_secrets_as_refs(v) for v in node]
    return node


def config_json_schema(registered: Mapping[str, Any]) -> dict[str, Any]:
    """:param registered: brick name -> object with a ``cls`` attribute (the Brick class)."""
    schema = HubSettings.model_json_schema()
    defs = schema.setdefault("$defs", {})
    section = BrickSection.model_json_schema()
    section.pop("additionalProperties", None)
    section_defs = section.pop("$defs", {})
    defs.update(section_defs)
    bricks: dict[str, Any] = {}
    for name, entry in sorted(registered.items()):
        own = entry.cls.Settings.model_json_schema()
        defs.update(own.pop("$defs", {}))
        bricks[name] = {
            "title": f"Brick {name}",
            "description": entry.cls.description,
            "type": "object",
            "properties": {**section["properties"], **own.get("properties", {})},
            "required": own.get("required", []),
            "additionalProperties": False,
        }
    schema["properties"]["bricks"] = {
        "title": "Bricks",
        "description": "One section per installed brick; unknown brick names are errors.",
        "type": "object",
        "properties": bricks,
        "additionalProperties": False,
    }
    schema = _secrets_as_refs(schema)
    schema["$defs"]["SecretRef"] = _SECRET_REF
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
