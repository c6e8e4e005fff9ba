"""Validate what a brick sends (and what a mock answers) against the vendor's published spec.

Golden snapshots prove a request did not change; only the vendor's own OpenAPI document proves
it was right in the first place (a field name, a type, a required key). The specs are reference
data outside the repository: ``$HUB_VENDOR_SPECS`` names their folder (CI sets it) and tests
skip when it is unset. Real-world specs need a little care before openapi-core accepts them;
each fix below is a quirk listed in that folder's README:

- YAML 1.1 reads ``=`` (OneSignal's filter operators) as a special tag: read as text;
- Brevo writes response codes as integers: read as strings;
- empty ``content: {}`` maps (Brevo) mean "no body": dropped;
- security is not checked (OneSignal documents ``Bearer`` but uses ``Key``; credentials are
  redacted from snapshots anyway): ``security`` requirements are removed;
- servers are rewritten onto one neutral host, keeping their paths, so a brick tested against
  any ``base_url`` host still finds its operations;
- Swagger 2.0 documents (Magento) are converted to OpenAPI 3 first (``hub.testing.swagger2``);
  Magento's store code in ``/rest/<store>/V1/...`` may be any, or absent.

Parsed specs are cached per process: the largest takes seconds to load.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.responses.exceptions import ResponseNotFound
from werkzeug.datastructures import Headers, ImmutableMultiDict

from hub.testing.swagger2 import swagger2_to_openapi3

__all__ = [
    "ENV_VARIABLE",
    "SPEC_HOST",
    "VendorSpec",
    "load_vendor_spec",
    "prepare_openapi",
    "vendor_specs_dir",
]

ENV_VARIABLE = "HUB_VENDOR_SPECS"
#: The one host every server of a prepared spec points at (see the module docstring).
SPEC_HOST = "https://vendor-spec.invalid"
_OPERATIONS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class _Loader(yaml.CSafeLoader):
    """Safe YAML where the YAML 1.1 ``=`` value tag is plain text."""


def _value_tag(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:value", _value_tag)


def vendor_specs_dir() -> Path:
    """The folder named by ``$HUB_VENDOR_SPECS``; skips the calling test when it is unset."""
    folder = os.environ.get(ENV_VARIABLE)
    if not folder:
        pytest.skip(f"{ENV_VARIABLE} is not set: vendor-spec validation skipped")
    path = Path(folder)
    if not path.is_dir():
        pytest.fail(f"{ENV_VARIABLE}={folder} is not a folder")
    return path


def _server(server: dict[str, Any]) -> dict[str, Any]:
    """The server's path on ``SPEC_HOST``; variables in the path still match any value."""
    variables = dict(server.get("variables") or {})
    url = server.get("url", "/")
    host, _, _ = url.partition("//")[2].partition("/") if "//" in url else ("", "", "")
    for name in list(variables):
        if "{" + name + "}" in host:
            url = url.replace("{" + name + "}", str(variables.pop(name).get("default", "")))
    rewritten: dict[str, Any] = {"url": SPEC_HOST + urlsplit(url).path.rstrip("/")}
    if variables:
        rewritten["variables"] = variables
    return rewritten


def _swagger_servers(spec: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Magento's ``basePath`` names one store (``/rest/default``); real calls use any store
    code, or none for the default store (``/rest/V1/...``)."""
    base = str(spec.get("basePath", ""))
    if not base.startswith("/rest/"):
        return None
    store = {"store_code": {"default": base.removeprefix("/rest/")}}
    return [{"url": "/rest/{store_code}", "variables": store}, {"url": "/rest"}]


def _drop_empty_content(holder: dict[str, Any]) -> None:
    if holder.get("content") == {}:
        del holder["content"]


def _operation(operation: dict[str, Any]) -> None:
    operation.pop("security", None)
    if "servers" in operation:
        operation["servers"] = [_server(s) for s in operation["servers"]]
    body = operation.get("requestBody")
    if isinstance(body, dict) and body.get("content") == {}:
        del operation["requestBody"]
    responses = operation.get("responses")
    if isinstance(responses, dict):
        operation["responses"] = {str(code): value for code, value in responses.items()}
        for response in operation["responses"].values():
            if isinstance(response, dict):
                _drop_empty_content(response)


def prepare_openapi(spec: dict[str, Any]) -> dict[str, Any]:
    """Apply the quirk fixes (module docstring) to a parsed spec, in place; return it."""
    if str(spec.get("swagger", "")).startswith("2"):
        servers = _swagger_servers(spec)
        spec = swagger2_to_openapi3(spec)
        spec["servers"] = servers or spec["servers"]
    spec.pop("security", None)
    spec["servers"] = [_server(s) for s in spec.get("servers") or [{"url": "/"}]]
    for item in (spec.get("paths") or {}).values():
        if "servers" in item:
            item["servers"] = [_server(s) for s in item["servers"]]
        for method in _OPERATIONS:
            if isinstance(item.get(method), dict):
                _operation(item[method])
    components = spec.get("components") or {}
    for response in (components.get("responses") or {}).values():
        _drop_empty_content(response)
    for name, body in list((components.get("requestBodies") or {}).items()):
        if body.get("content") == {}:
            del components["requestBodies"][name]
    return spec


class _Request:
    """An ``httpx.Request`` as openapi-core's request protocol sees it."""

    def __init__(self, request: httpx.Request) -> None:
        self._request = request
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(request.url.query.decode(), keep_blank_values=True)),
            header=Headers(list(request.headers.multi_items())),
            cookie=ImmutableMultiDict(),
        )

    host_url = SPEC_HOST

    @property
    def path(self) -> str:
        return self._request.url.path

    @property
    def method(self) -> str:
        return self._request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self._request.content or None

    @property
    def content_type(self) -> str:
        return self._request.headers.get("content-type", "").lower()


class _Response:
    """An ``httpx.Response`` as openapi-core's response protocol sees it."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.headers = Headers(list(response.headers.multi_items()))
        self.content_type = response.headers.get("content-type", "").lower()
        self.data = response.content or None


def _explain(exc: Exception) -> str:
    """The validation error with the schema errors openapi-core keeps in its causes."""
    lines = [str(exc)]
    cause: BaseException | None = exc
    while cause is not None:
        for error in getattr(cause, "schema_errors", None) or []:
            path = "/".join(str(p) for p in getattr(error, "path", ()))
            lines.append(f"  - {path or '<body>'}: {getattr(error, 'message', error)}")
        cause = cause.__cause__
    return "\n".join(lines)


class VendorSpec:
    """One vendor's prepared spec, with assertions on requests and responses."""

    def __init__(self, name: str, spec: dict[str, Any]) -> None:
        self.name = name
        self.openapi = OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))

    def validate_request(self, request: httpx.Request, *, label: str = "") -> None:
        """Raise ``AssertionError`` unless the spec accepts ``request`` (security excepted)."""
        try:
            self.openapi.validate_request(_Request(request))
        except Exception as exc:  # openapi-core's error tree: path, parameters, body
            where = f"{label}: " if label else ""
            raise AssertionError(
                f"{where}{request.method} {request.url.path} does not conform to "
                f"{self.name}:\n{_explain(exc)}"
            ) from exc

    def validate_response(
        self, request: httpx.Request, response: httpx.Response, *, label: str = ""
    ) -> None:
        """Raise ``AssertionError`` unless ``response`` is one the spec documents for
        ``request``. An error status the spec does not document at all is accepted: many
        vendors publish no error bodies, and the kit's mocked errors are its own."""
        try:
            self.openapi.validate_response(_Request(request), _Response(response))
        except ResponseNotFound:
            if response.status_code >= 400:
                return
            raise AssertionError(
                f"{label}: {self.name} documents no HTTP {response.status_code} answer to "
                f"{request.method} {request.url.path}"
            ) from None
        except Exception as exc:
            where = f"{label}: " if label else ""
            raise AssertionError(
                f"{where}the mocked HTTP {response.status_code} answer to {request.method} "
                f"{request.url.path} does not conform to {self.name}:\n{_explain(exc)}"
            ) from exc


@functools.cache
def _load(path: Path) -> VendorSpec:
    text = path.read_text(encoding="utf-8")
    spec = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    return VendorSpec(path.name, prepare_openapi(spec))


def load_vendor_spec(file_name: str) -> VendorSpec:
    """The spec ``file_name`` from ``$HUB_VENDOR_SPECS`` (skips the test when unset)."""
    path = vendor_specs_dir() / file_name
    if not path.is_file():
        pytest.fail(f"no vendor spec {file_name!r} in {path.parent}")
    return _load(path.resolve())
