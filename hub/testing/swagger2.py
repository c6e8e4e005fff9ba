"""Swagger 2.0 -> OpenAPI 3.0, just enough to validate requests and responses.

openapi-core reads OpenAPI 3 only, and some vendors still publish Swagger 2.0 (Magento/Adobe
Commerce). The conversion is mechanical for what validation needs: servers from
host/basePath, body and form parameters into ``requestBody``, response schemas into
``content``, ``definitions`` into ``components``. Documentation-only keys are left as they are.
"""

from __future__ import annotations

from typing import Any

__all__ = ["swagger2_to_openapi3"]

_OPERATIONS = ("get", "put", "post", "delete", "options", "head", "patch")
_REFS = {
    "#/definitions/": "#/components/schemas/",
    "#/parameters/": "#/components/parameters/",
    "#/responses/": "#/components/responses/",
}
_SCHEMA_KEYS = (
    "type",
    "format",
    "items",
    "enum",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
)


def _refs(node: Any) -> Any:
    """Point every ``$ref`` at its OpenAPI 3 location; turn ``type: file`` into binary."""
    if isinstance(node, list):
        return [_refs(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _refs(value) for key, value in node.items()}
    ref = out.get("$ref")
    if isinstance(ref, str):
        for old, new in _REFS.items():
            if ref.startswith(old):
                out["$ref"] = new + ref[len(old) :]
    if out.get("type") == "file":
        out.update(type="string", format="binary")
    if out.pop("x-nullable", False) is True:
        out["nullable"] = True
    return out


def _parameter(param: dict[str, Any]) -> dict[str, Any]:
    """A query/path/header parameter: its validation keywords move under ``schema``."""
    if "$ref" in param:
        return param
    out = {k: v for k, v in param.items() if k not in (*_SCHEMA_KEYS, "collectionFormat")}
    out["schema"] = {k: param[k] for k in _SCHEMA_KEYS if k in param}
    collection = param.get("collectionFormat")
    if param.get("type") == "array" and collection:
        out["explode"] = collection == "multi"
        out["style"] = "form" if param.get("in") == "query" else "simple"
    return out


def _operation(operation: dict[str, Any], consumes: list[str], produces: list[str]) -> None:
    consumes = operation.pop("consumes", None) or consumes
    produces = operation.pop("produces", None) or produces
    params = []
    form: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    for param in operation.get("parameters", []):
        where = param.get("in")
        if where == "body":
            media = {"schema": param.get("schema", {})}
            operation["requestBody"] = {
                "required": bool(param.get("required")),
                "content": {kind: media for kind in consumes or ["application/json"]},
            }
        elif where == "formData":
            form["properties"][param["name"]] = _parameter(param)["schema"]
            if param.get("required"):
                form["required"].append(param["name"])
        else:
            params.append(_parameter(param))
    if form["properties"]:
        if not form["required"]:
            form.pop("required")
        kinds = [k for k in consumes if "form" in k] or ["application/x-www-form-urlencoded"]
        operation["requestBody"] = {"content": {kind: {"schema": form} for kind in kinds}}
    if params:
        operation["parameters"] = params
    else:
        operation.pop("parameters", None)
    for code, response in list(operation.get("responses", {}).items()):
        operation["responses"][code] = _response(response, produces)


def _response(response: dict[str, Any], produces: list[str]) -> dict[str, Any]:
    if "$ref" in response:
        return response
    out = {k: v for k, v in response.items() if k not in ("schema", "examples", "headers")}
    out.setdefault("description", "")
    if "schema" in response:
        media = {"schema": response["schema"]}
        out["content"] = {kind: media for kind in produces or ["application/json"]}
    if "headers" in response:
        out["headers"] = {
            name: {"schema": {k: v for k, v in header.items() if k in _SCHEMA_KEYS}}
            for name, header in response["headers"].items()
        }
    return out


def swagger2_to_openapi3(spec: dict[str, Any]) -> dict[str, Any]:
    """A new OpenAPI 3.0 document equivalent, for validation, to the Swagger 2.0 ``spec``."""
    spec = _refs(spec)
    scheme = (spec.get("schemes") or ["https"])[0]
    host = spec.get("host", "localhost")
    consumes = spec.get("consumes", [])
    produces = spec.get("produces", [])
    paths: dict[str, Any] = {}
    for path, item in spec.get("paths", {}).items():
        item = dict(item)
        shared = item.pop("parameters", [])
        for method in _OPERATIONS:
            if method in item:
                operation = dict(item[method])
                names = {(p.get("name"), p.get("in")) for p in operation.get("parameters", [])}
                inherited = [p for p in shared if (p.get("name"), p.get("in")) not in names]
                operation["parameters"] = [*inherited, *operation.get("parameters", [])]
                _operation(operation, consumes, produces)
                item[method] = operation
        paths[path] = item
    parameters = {
        name: _parameter(param)
        for name, param in spec.get("parameters", {}).items()
        if param.get("in") not in ("body", "formData")
    }
    return {
        "openapi": "3.0.3",
        "info": spec.get("info", {"title": "converted", "version": "0"}),
        "servers": [{"url": f"{scheme}://{host}{spec.get('basePath', '')}"}],
        "paths": paths,
        "components": {
            "schemas": spec.get("definitions", {}),
            "parameters": parameters,
            "responses": {
                name: _response(response, produces)
                for name, response in spec.get("responses", {}).items()
            },
        },
    }
