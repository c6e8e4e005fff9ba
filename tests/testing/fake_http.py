"""A small, well-behaved HTTP brick built on hub.sdk.http, and the broken variants the kit
must catch. The kit is only worth something if each of its checks fails for the bug it names.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr

from contracts import (
    Brick,
    BrickContext,
    BrickError,
    Capability,
    Channel,
    ContactView,
    CustomerField,
    PayloadRejected,
    Purpose,
    Retryable,
    SendError,
    SendRequest,
    SendResult,
    SendStatus,
    UpsertResult,
)
from hub.sdk.http import HttpBrickSettings, build_client, request
from hub.testing import Exchange, HttpBrickConformance, make_send_request

BASE_URL = "https://api.fakemail.test/v1"
API_KEY = "fakemail-key-0123456789"
GOLDEN = Path(__file__).parent / "golden"


class FakeMail(Brick):
    name: ClassVar[str] = "fakemail"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "A fake ESP used to test the conformance kit"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.SENDER, Capability.CONTACT_SINK}
    )
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.EMAIL})
    fields: ClassVar[frozenset[CustomerField]] = frozenset(
        {CustomerField.EMAIL, CustomerField.FIRST_NAME, CustomerField.LAST_NAME}
    )
    purposes: ClassVar[frozenset[Purpose]] = frozenset({Purpose.MARKETING, Purpose.TRANSACTIONAL})
    supports_idempotency: ClassVar[bool] = True

    class Settings(HttpBrickSettings):
        base_url: str = BASE_URL
        api_key: SecretStr

    settings: Settings

    def __init__(self, settings: Any, context: BrickContext) -> None:
        super().__init__(settings, context)
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = build_client(
                self.settings,
                brick_name=self.name,
                brick_version=self.version,
                headers={"api-key": self.settings.api_key.get_secret_value()},
            )
        return self._client

    def _recipient(self, view: ContactView) -> dict[str, Any]:
        if view.email is None:
            raise PayloadRejected("recipient view has no email", field="email")
        to: dict[str, Any] = {"email": view.email, "ext_id": view.pseudonym}
        if view.first_name:
            to["first_name"] = view.first_name
        return to

    def _send_body(self, req: SendRequest) -> dict[str, Any]:
        return {
            "to": self._recipient(req.recipient),
            "template": req.template,
            "params": req.variables,
            "idempotency_key": req.idempotency_key,
        }

    async def send(self, req: SendRequest) -> SendResult:
        response = await request(self._http(), "POST", "/send", json=self._send_body(req))
        return SendResult(
            request_id=req.request_id,
            status=SendStatus.ACCEPTED,
            vendor_message_id=response.json()["message_id"],
        )

    async def send_batch(self, requests: Sequence[SendRequest]) -> list[SendResult]:
        results = []
        for req in requests:
            try:
                results.append(await self.send(req))
            except BrickError as exc:
                retryable = isinstance(exc, Retryable)
                results.append(
                    SendResult(
                        request_id=req.request_id,
                        status=SendStatus.FAILED if retryable else SendStatus.REJECTED,
                        error=SendError(
                            code=type(exc).__name__,
                            message=exc.message,
                            retryable=retryable,
                            retry_after=getattr(exc, "retry_after", None),
                        ),
                    )
                )
        return results

    async def upsert(self, contacts: Sequence[ContactView]) -> list[UpsertResult]:
        results = []
        for view in contacts:
            attributes = {
                key: getattr(view, key)
                for key in ("first_name", "last_name")
                if getattr(view, key) is not None
            }
            body = {"ext_id": view.pseudonym, "email": view.email, "attributes": attributes}
            response = await request(self._http(), "PUT", f"/contacts/{view.pseudonym}", json=body)
            created = response.status_code == 201
            results.append(UpsertResult(pseudonym=view.pseudonym, created=created))
        return results

    async def erase(self, pseudonym: str) -> None:
        await request(self._http(), "DELETE", f"/contacts/{pseudonym}")

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _send(brick: Brick, view: ContactView) -> Any:
    return brick.send(make_send_request(view, channel=Channel.EMAIL))  # type: ignore[attr-defined]


def _check_accepted(result: SendResult) -> None:
    assert result.status is SendStatus.ACCEPTED
    assert result.vendor_message_id == "fm-0001"


def _check_created(results: list[UpsertResult]) -> None:
    assert [r.created for r in results] == [True]


class FakeMailSuite(HttpBrickConformance):
    """The kit configured for FakeMail; test modules subclass it with a ``Test`` name."""

    brick = FakeMail
    settings: ClassVar[dict[str, Any]] = {"api_key": API_KEY, "base_url": BASE_URL}
    golden_dir = GOLDEN

    def exchanges(self) -> list[Exchange]:
        return [
            Exchange(
                name="send_email",
                call=_send,
                method="POST",
                path="/send",
                success=httpx.Response(201, json={"message_id": "fm-0001"}),
                check=_check_accepted,
                idempotency_key="idem-conformance-0001",
                rejection=httpx.Response(400, json={"code": "invalid_parameter", "message": "bad"}),
            ),
            Exchange(
                name="upsert",
                call=lambda brick, view: brick.upsert([view]),  # type: ignore[attr-defined]
                method="PUT",
                path=r"/contacts/ps_\w+",
                success=httpx.Response(201, json={}),
                check=_check_created,
            ),
            Exchange(
                name="erase",
                call=lambda brick, view: brick.erase(view.pseudonym),  # type: ignore[attr-defined]
                method="DELETE",
                path=r"/contacts/ps_\w+",
                success=httpx.Response(204),
            ),
        ]
