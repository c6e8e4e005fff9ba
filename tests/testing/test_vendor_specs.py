"""Vendor-spec validation: the quirk fixes, Swagger 2.0, the real specs, and the kit's use."""

from __future__ import annotations

import base64
import dataclasses
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.testing.swagger2 import swagger2_to_openapi3
from hub.testing.vendor_specs import (
    ENV_VARIABLE,
    SPEC_HOST,
    VendorSpec,
    load_vendor_spec,
    prepare_openapi,
)
from tests.testing.fake_http import FakeMail, FakeMailSuite

real_specs = pytest.mark.skipif(not os.environ.get(ENV_VARIABLE), reason=f"{ENV_VARIABLE} unset")

# A small spec in the shape of the FakeMail API, with Brevo's quirks: integer response codes,
# an empty ``content: {}``, and a security scheme the requests do not satisfy.
FAKEMAIL_SPEC = """
openapi: 3.0.3
info: {title: FakeMail, version: "1"}
servers: [{url: "https://api.fakemail.example/v1"}]
security: [{bearer: []}]
components:
  securitySchemes: {bearer: {type: http, scheme: bearer}}
paths:
  /send:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [to, template]
              additionalProperties: false
              properties:
                to:
                  type: object
                  required: [email, ext_id]
                  properties:
                    email: {type: string, format: email}
                    ext_id: {type: string}
                    first_name: {type: string}
                template: {type: string}
                params: {type: object}
                idempotency_key: {type: string}
      responses:
        201:
          description: sent
          content:
            application/json:
              schema:
                type: object
                required: [message_id]
                properties: {message_id: {type: string}}
        400:
          description: refused
          content:
            application/json:
              schema: {type: object, properties: {code: {type: string}}}
  /contacts/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    put:
      requestBody:
        content: {application/json: {schema: {type: object}}}
      responses:
        201: {description: created, content: {application/json: {schema: {type: object}}}}
    delete:
      responses:
        204: {description: deleted, content: {}}
"""


def spec_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "fakemail.yaml").write_text(FAKEMAIL_SPEC)
    monkeypatch.setenv(ENV_VARIABLE, str(tmp_path))


def test_quirks_are_fixed_before_validation() -> None:
    spec: dict[str, Any] = {
        "openapi": "3.0.1",
        "servers": [{"url": "https://{region}.vendor.example/v3", "variables": {"region": {}}}],
        "security": [{"api-key": []}],
        "paths": {
            "/x": {
                "post": {
                    "security": [{"api-key": []}],
                    "requestBody": {"content": {}},
                    "responses": {200: {"description": "ok", "content": {}}},
                }
            }
        },
    }
    prepared = prepare_openapi(spec)
    assert prepared["servers"] == [{"url": f"{SPEC_HOST}/v3"}]
    assert "security" not in prepared
    operation = prepared["paths"]["/x"]["post"]
    assert "security" not in operation
    assert "requestBody" not in operation
    assert operation["responses"] == {"200": {"description": "ok"}}


def test_swagger2_documents_are_converted() -> None:
    swagger = {
        "swagger": "2.0",
        "info": {"title": "shop", "version": "1"},
        "host": "example.com",
        "basePath": "/rest/default",
        "paths": {
            "/V1/customers": {
                "post": {
                    "parameters": [
                        {"name": "body", "in": "body", "schema": {"$ref": "#/definitions/C"}}
                    ],
                    "responses": {"200": {"description": "ok", "schema": {"type": "integer"}}},
                }
            }
        },
        "definitions": {
            "C": {
                "type": "object",
                "required": ["email"],
                "properties": {"email": {"type": "string"}},
            }
        },
    }
    converted = swagger2_to_openapi3(swagger)
    body = converted["paths"]["/V1/customers"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/C"}
    spec = VendorSpec("shop", prepare_openapi(swagger))
    url = "https://shop.example/rest/all/V1/customers"
    spec.validate_request(httpx.Request("POST", url, json={"email": "a@example.org"}))
    with pytest.raises(AssertionError, match="'email' is a required property"):
        spec.validate_request(httpx.Request("POST", url, json={"name": "x"}))
    spec.validate_response(httpx.Request("POST", url), httpx.Response(200, json=3))


def test_specs_are_skipped_without_the_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VARIABLE, raising=False)
    with pytest.raises(pytest.skip.Exception, match=ENV_VARIABLE):
        load_vendor_spec("brevo_v3.yml")


def test_the_kit_validates_a_conforming_brick(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec_folder(tmp_path, monkeypatch)
    suite = type("Suite", (FakeMailSuite,), {"vendor_spec": "fakemail.yaml"})()
    suite.test_http_vendor_spec()
    assert load_vendor_spec("fakemail.yaml") is load_vendor_spec("fakemail.yaml")  # cached


def test_the_kit_catches_a_request_the_spec_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class SendsTemplateIds(FakeMail):
        def _send_body(self, req):
            return {**super()._send_body(req), "template": 12}

    spec_folder(tmp_path, monkeypatch)
    suite = type("Suite", (FakeMailSuite,), {"vendor_spec": "fakemail.yaml"})()
    suite.brick = SendsTemplateIds
    with pytest.raises(AssertionError, match="template: 12 is not of type 'string'"):
        suite.test_http_vendor_spec()


def test_the_kit_catches_a_mocked_answer_the_spec_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec_folder(tmp_path, monkeypatch)

    class Suite(FakeMailSuite):
        vendor_spec = "fakemail.yaml"

        def exchanges(self):
            [send, *_] = super().exchanges()
            undocumented = httpx.Response(200, json={"message_id": "fm-0001"})
            return [dataclasses.replace(send, success=undocumented)]

    with pytest.raises(AssertionError, match="documents no HTTP 200 answer"):
        Suite().test_http_vendor_spec()


# -- the real specs ($HUB_VENDOR_SPECS) ----------------------------------------------------------
BREVO = "https://api.brevo.com/v3/smtp/email"


def brevo_email(**overrides: Any) -> httpx.Request:
    body = {
        "to": [{"email": "ada.conformance@example.org", "name": "Adaconf"}],
        "templateId": 12,
        "params": {"coupon": "CONF10"},
        "headers": {"idempotencyKey": "idem-conformance-0001"},
        **overrides,
    }
    return httpx.Request("POST", BREVO, json=body, headers={"api-key": "xkeysib-test"})


@real_specs
def test_brevo_transactional_email_request() -> None:
    spec = load_vendor_spec("brevo_v3.yml")
    spec.validate_request(brevo_email())
    with pytest.raises(AssertionError, match="'twelve' is not of type 'integer'"):
        spec.validate_request(brevo_email(templateId="twelve"))
    answer = httpx.Response(201, json={"messageId": "<20260115100000.1@smtp-relay.mailin.fr>"})
    spec.validate_response(brevo_email(), answer)
    spec.validate_response(
        brevo_email(), httpx.Response(400, json={"code": "invalid_parameter", "message": "bad"})
    )
    with pytest.raises(AssertionError, match="does not conform"):
        spec.validate_response(brevo_email(), httpx.Response(201, json={"messageId": 12}))


@real_specs
def test_twilio_form_encoded_message_request() -> None:
    spec = load_vendor_spec("twilio_api_v2010.json")
    sid = "AC" + "0" * 32
    url = f"https://api.twilio.com/2010-04-01/Accounts/{sid}/Messages.json"
    auth = "Basic " + base64.b64encode(f"{sid}:token".encode()).decode()
    form = {
        "To": "+33612345678",
        "From": "+14155552345",
        "Body": "Hello",
        "StatusCallback": "https://hub.conformance.example/webhooks/twilio",
    }
    spec.validate_request(httpx.Request("POST", url, data=form, headers={"Authorization": auth}))
    bad = httpx.Request("POST", url.replace(sid, "AC-not-a-sid"), data=form)
    with pytest.raises(AssertionError, match="does not conform"):
        spec.validate_request(bad)


@real_specs
def test_onesignal_key_authorisation_is_not_a_failure() -> None:
    spec = load_vendor_spec("onesignal.yaml")
    body = {
        "app_id": "5eb5a37e-b458-11e3-ac11-000c2940e62c",
        "include_aliases": {"external_id": ["ps_conformance0123456789abcdef"]},
        "target_channel": "push",
        "contents": {"en": "Hello"},
        "idempotency_key": "6f1b9b2e-2f4b-4b8e-9a3c-2d1e5f6a7b8c",
    }
    request = httpx.Request(
        "POST",
        "https://api.onesignal.com/notifications",
        json=body,
        headers={"Authorization": "Key os-test-key"},
    )
    spec.validate_request(request)


@real_specs
def test_magento_swagger2_spec_is_usable() -> None:
    spec = load_vendor_spec("magento_admin_2.4.8.yaml")
    spec.validate_request(httpx.Request("GET", "https://shop.example/rest/V1/carts/search"))
    with pytest.raises(AssertionError, match="Path not found"):
        spec.validate_request(httpx.Request("GET", "https://shop.example/rest/V1/no/such/thing"))
