"""End to end through the core: a real installation sends one message through the brick.

The per-exchange checks prove a brick sends no more than the view it is given; this one proves
the whole path — config with file-referenced secrets, consent, the pressure ledger, the core's
minimised view, the brick, the vendor call — keeps the hub's customer id and every field the
configuration does not allow inside the hub. It is the check that would catch a brick reaching
for data the core never meant to hand it.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import respx
from pydantic import SecretStr

from contracts import (
    Brick,
    Channel,
    Consent,
    ConsentStatus,
    Contact,
    CustomerField,
    Identifier,
    IdentifierKind,
    MessageKind,
    Purpose,
)
from hub.config.secrets import secret_field_patterns
from hub.contacts.apply import apply_contact
from hub.plugins import build_plugin_host
from hub.runtime import open_runtime
from hub.sdk import hookimpl
from hub.sending import send_message
from hub.storage.db import session_scope, upgrade
from hub.storage.types import utcnow
from hub.testing.exchanges import add_route, copy_response, find_leaks, request_text
from hub.testing.installation import make_installation
from hub.testing.samples import CONTACT_POINTS, HUB_ID_PATTERN, PUBLIC_BASE_URL, SAMPLE_VALUES

if TYPE_CHECKING:
    from hub.testing.http_conformance import HttpBrickConformance

__all__ = ["brick_section", "check_core_send", "toml_value"]

SCENARIO = "conformance"
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_value(value: Any) -> str:
    """A settings value as TOML (strings, numbers, booleans, lists, tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, str | Path):
        return json.dumps(str(value))  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple | set | frozenset):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    raise TypeError(f"cannot write a {type(value).__name__} setting to TOML")


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name)


def brick_section(
    brick: type[Brick],
    settings: Mapping[str, Any],
    allowed_fields: frozenset[CustomerField],
    keys_dir: Path,
) -> str:
    """``[bricks.<name>]`` for ``settings``, secrets written to files and referenced, as the
    config loader demands (it refuses inline secrets)."""
    secret_names = {pattern[0] for pattern in secret_field_patterns(brick.Settings)}
    lines = [
        f"[bricks.{brick.name}]",
        f"allowed_fields = {toml_value(sorted(field.value for field in allowed_fields))}",
    ]
    for name, value in settings.items():
        if value is None:
            continue  # TOML has no null: leaving the key out gives the field its default
        if name in secret_names:
            path = keys_dir / f"{brick.name}_{name}"
            plain = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
            path.write_text(plain, encoding="utf-8")
            path.chmod(0o600)
            lines.append(f"{_key(name)} = {{file = {json.dumps(path.as_posix())}}}")
        else:
            lines.append(f"{_key(name)} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def _registrar(cls: type[Brick]) -> object:
    """A plugin object registering ``cls``: the brick under test need not be installed."""

    class Registrar:
        @hookimpl
        def hub_register_bricks(self, register: Callable[[type[Brick]], None]) -> None:
            register(cls)

    return Registrar()


def _contact(channel: Channel) -> Contact:
    """One person with every field filled, and marketing consent on ``channel``."""
    values = SAMPLE_VALUES
    return Contact(
        identifiers=[
            Identifier(kind=IdentifierKind.EMAIL, value=values[CustomerField.EMAIL]),
            Identifier(kind=IdentifierKind.PHONE, value=values[CustomerField.PHONE]),
        ],
        first_name=values[CustomerField.FIRST_NAME],
        last_name=values[CustomerField.LAST_NAME],
        push_token=values[CustomerField.PUSH_TOKEN],
        locale=values[CustomerField.LOCALE],
        time_zone=values[CustomerField.TIME_ZONE],
        consents=[
            Consent(
                channel=channel,
                purpose=Purpose.MARKETING,
                status=ConsentStatus.GRANTED,
                source="conformance",
                recorded_at=utcnow(),
            )
        ],
    )


def _channel(conformance: HttpBrickConformance) -> Channel:
    if conformance.core_send_channel is not None:
        return conformance.core_send_channel
    served = [channel for channel in Channel if channel in conformance.brick.channels]
    assert served, "a Sender must declare the channels it serves"
    return served[0]


def check_core_send(conformance: HttpBrickConformance, root: Path) -> None:
    """Install the brick, import one consenting contact, send through ``send_message``."""
    brick = conformance.brick
    channel = _channel(conformance)
    if Purpose.MARKETING in brick.purposes:
        kind = MessageKind.MARKETING
    else:
        assert Purpose.TRANSACTIONAL in brick.purposes, "a Sender needs a sending purpose"
        kind = MessageKind.TRANSACTIONAL
    allowed = conformance.minimal_fields() & brick.fields
    keys_dir = root / "keys"
    keys_dir.mkdir(parents=True, exist_ok=True)
    installation = make_installation(
        root,
        bricks=brick_section(brick, conformance.settings, allowed, keys_dir),
        extra=(
            f"public_base_url = {json.dumps(PUBLIC_BASE_URL)}\n"
            f"[scenarios.{SCENARIO}]\nkind = {json.dumps(kind.value)}\n"
        ),
        migrate=False,  # migrating opens a runtime, which needs the brick registered: below
    )
    host = build_plugin_host(
        load_entry_points=False, extra_plugins=[(f"conformance_{brick.name}", _registrar(brick))]
    )
    runtime = open_runtime(installation.config, host=host)
    try:
        upgrade(runtime.engine)
        with session_scope(runtime.ready_engine()) as session:
            customer_id = apply_contact(
                session, runtime.identity, _contact(channel), source="conformance"
            ).customer_id
    except BaseException:
        asyncio.run(runtime.aclose())
        raise

    async def send() -> tuple[Any, list[Any]]:
        base_url = conformance.base_url()
        with respx.mock(
            base_url=base_url, assert_all_mocked=True, assert_all_called=False
        ) as router:
            for exchange in conformance.exchanges():
                route = add_route(router, exchange.method, exchange.path)
                route.mock(return_value=copy_response(exchange.success))
                if exchange.extra_routes is not None:
                    exchange.extra_routes(router)
            try:
                outcome = await send_message(
                    runtime,
                    customer_id=customer_id,
                    channel=channel,
                    scenario=SCENARIO,
                    template="welcome-1",
                    variables={"coupon": "CONF10"},
                )
            finally:
                await runtime.aclose()
            return outcome, [call.request for call in router.calls]

    outcome, requests = asyncio.run(send())
    assert outcome.status == "sent", (
        f"the core could not send through {brick.name} on {channel.value}: {outcome!r}"
    )
    assert requests, f"{brick.name} reported the message sent without calling the vendor"
    texts = [request_text(request) for request in requests]
    assert not any(customer_id.lower() in text for text in texts), "the hub id left the core"
    assert not any(HUB_ID_PATTERN.search(text) for text in texts), "a hub id left the core"
    # The core narrows a message to its own channel's contact point.
    others = set(CONTACT_POINTS.values()) - {CONTACT_POINTS[channel]}
    delivered = allowed - others
    withheld = {f.value: v for f, v in SAMPLE_VALUES.items() if f not in delivered}
    leaks = find_leaks(withheld, texts)
    assert not leaks, (
        f"sending through the core, {brick.name} sent {leaks}, which the configuration "
        f"(allowed_fields = {sorted(f.value for f in allowed)}) never let it have"
    )
