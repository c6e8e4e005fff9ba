"""Settings of the Unomi brick, validated by the core from ``[bricks.unomi]`` in ``hub.toml``.

Unomi is configured per installation (its rules decide what a login event carries), so every
name the brick relies on is a setting: the scope, the event types that prove who someone is,
the event property paths holding each identifier, and the profile property holding the hub's
audiences. Names are checked against Unomi's own patterns (event types, scopes and profile ids
match ``^[\\w@.-]{0,60}$`` in its JSON schemas), so a typo fails at ``hub config validate``
rather than as a silently empty search.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from hub.sdk.http import HttpBrickSettings

__all__ = ["EVIDENCE_WORDS", "UNOMI_ID", "UnomiSettings"]

#: Unomi's pattern for event types, scopes, profile and session ids (its event JSON schema).
UNOMI_ID = re.compile(r"[A-Za-z0-9_@.-]{1,60}")
#: Evidence a configured event type may carry; ``anonymous`` never proves anything.
EVIDENCE_WORDS = ("login", "purchase", "newsletter_click")
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9_:@$-]{1,100}")
_PROPERTY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")
_NAMESPACE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
Evidence = Literal["login", "purchase", "newsletter_click"]


def _check_path(path: str) -> str:
    segments = path.split(".")
    if not path or any(not _PATH_SEGMENT.fullmatch(segment) for segment in segments):
        raise ValueError(
            "event property paths are dotted names such as 'target.properties.email' "
            "(letters, digits, _ : @ $ -; no empty segment)"
        )
    return path


def _check_paths(paths: list[str]) -> list[str]:
    for path in paths:
        _check_path(path)
    return list(dict.fromkeys(paths))


class UnomiSettings(HttpBrickSettings):
    """Where Unomi is, how the brick authenticates, and how Unomi's data maps to the hub's."""

    base_url: str
    """Root of the Unomi server, without ``/cxs`` (e.g. ``http://unomi:8181``)."""
    username: str = Field(min_length=1, max_length=128)
    """User of the private ``/cxs`` endpoints (Basic auth; ``karaf`` on a default install)."""
    password: SecretStr
    """Password of ``username`` (``UNOMI_ROOT_PASSWORD`` on the Unomi side)."""
    auth_header: str = "X-Unomi-Peer"
    """Header carrying the third-party server key on ``/cxs/eventcollector`` calls."""
    auth_key: SecretStr
    """The third-party server key (``org.apache.unomi.thirdparty.provider1.key`` in Unomi)."""
    scope: str
    """Unomi scope (site id) whose events are read and in which audience updates are sent."""
    site_cookie_namespace: str = "unomi"
    """Namespace of the ``site_cookie`` identifiers holding Unomi profile ids
    (the ``context-profile-id`` cookie); the audience push receives cookies of this namespace."""
    link_events: dict[str, Evidence] = Field(default_factory=lambda: {"login": "login"})
    """Unomi event type -> the evidence it carries (``login``, ``purchase``,
    ``newsletter_click``). Only these event types are read; no other event ever links."""
    email_paths: list[str] = Field(default_factory=lambda: ["target.properties.email"])
    """Event property paths tried in order for the person's email (the first value found wins)."""
    shop_customer_id_paths: list[str] = Field(
        default_factory=lambda: ["target.properties.customerId"]
    )
    """Event property paths tried in order for the shop's customer id."""
    shop_namespace: str = ""
    """Namespace of those shop customer ids: the shop brick's (e.g. ``prestashop``)."""
    crm_id_paths: list[str] = Field(default_factory=lambda: ["target.properties.crmId"])
    """Event property paths tried in order for the CRM id."""
    crm_namespace: str = ""
    """Namespace of those CRM ids."""
    partner_cookie_paths: dict[str, list[str]] = Field(default_factory=dict)
    """Partner namespace -> event property paths of that partner's cookie ids (string or list)."""
    audience_property: str = "hubAudiences"
    """Profile property holding the hub's audiences: ``properties.<this>.<audience name>``."""
    alias_client_id: str = "marketing-hub"
    """Client id recorded on the aliases the brick creates (``X-Unomi-ClientId``); Unomi only
    removes an alias when asked with the client id it was created with."""
    collector_profile_id: str = "marketing-hub"
    """Profile id the ``/cxs/eventcollector`` calls are made as (Unomi needs one per call and
    creates it, empty, on the first push). Each event changes the profile its ``targetId``
    names; Unomi skips a target it does not know instead of creating it."""
    page_size: int = Field(default=100, ge=1, le=1000)
    """Events read per ``read_links`` page (and profiles per search page of a push)."""
    batch_size: int = Field(default=50, ge=1, le=500)
    """``updateProperties`` events sent per ``/cxs/eventcollector`` call."""
    settle_seconds: int = Field(default=60, ge=0, le=3600)
    """Events younger than this are left for the next read: Unomi indexes an event a moment
    after stamping it, and a cursor must not move past one that is not searchable yet."""

    @field_validator("username")
    @classmethod
    def _no_colon(cls, value: str) -> str:
        if ":" in value or not value.strip():
            raise ValueError("must be a user name without ':' (Basic auth)")
        return value

    @field_validator("auth_header")
    @classmethod
    def _header_name(cls, value: str) -> str:
        if not _HEADER_NAME.fullmatch(value):
            raise ValueError("must be an HTTP header name (letters, digits, '-')")
        return value

    @field_validator("scope", "alias_client_id", "collector_profile_id")
    @classmethod
    def _unomi_id(cls, value: str) -> str:
        if not UNOMI_ID.fullmatch(value):
            raise ValueError("must be 1-60 letters, digits or _ @ . - (Unomi's id pattern)")
        return value

    @field_validator("site_cookie_namespace")
    @classmethod
    def _cookie_namespace(cls, value: str) -> str:
        if not _NAMESPACE.fullmatch(value):
            raise ValueError("must be 1-64 lower-case letters, digits or _ . -")
        return value

    @field_validator("shop_namespace", "crm_namespace")
    @classmethod
    def _optional_namespace(cls, value: str) -> str:
        if value and not _NAMESPACE.fullmatch(value):
            raise ValueError("must be empty or 1-64 lower-case letters, digits or _ . -")
        return value

    @field_validator("link_events", mode="before")
    @classmethod
    def _no_anonymous(cls, value: object) -> object:
        if isinstance(value, dict):
            for event_type, evidence in value.items():
                if evidence == "anonymous":
                    raise ValueError(
                        f"event type {event_type!r}: 'anonymous' proves nothing and is never "
                        "read; remove it"
                    )
                if evidence not in EVIDENCE_WORDS:
                    raise ValueError(
                        f"event type {event_type!r}: evidence must be one of "
                        f"{', '.join(EVIDENCE_WORDS)}"
                    )
        return value

    @field_validator("link_events")
    @classmethod
    def _event_types(cls, value: dict[str, Evidence]) -> dict[str, Evidence]:
        if not value:
            raise ValueError("list at least one event type that proves identity (e.g. login)")
        bad = sorted(name for name in value if not UNOMI_ID.fullmatch(name))
        if bad:
            raise ValueError(f"not Unomi event type names: {', '.join(bad)}")
        return dict(sorted(value.items()))

    @field_validator("email_paths", "shop_customer_id_paths", "crm_id_paths")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        return _check_paths(value)

    @field_validator("partner_cookie_paths")
    @classmethod
    def _partner_paths(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for namespace, paths in value.items():
            if not _NAMESPACE.fullmatch(namespace):
                raise ValueError(
                    f"partner namespace {namespace!r} must be 1-64 lower-case letters, digits "
                    "or _ . -"
                )
            if not paths:
                raise ValueError(f"partner {namespace!r}: list at least one event property path")
            _check_paths(paths)
        return {namespace: _check_paths(paths) for namespace, paths in sorted(value.items())}

    @field_validator("audience_property")
    @classmethod
    def _property_name(cls, value: str) -> str:
        if not _PROPERTY_NAME.fullmatch(value):
            raise ValueError(
                "must be one profile property name: a letter, then letters, digits or _ "
                "(no dots), at most 64 characters"
            )
        return value

    @model_validator(mode="after")
    def _email_or_id(self) -> UnomiSettings:
        if not (
            self.email_paths
            or self.shop_customer_id_paths
            or self.crm_id_paths
            or self.partner_cookie_paths
        ):
            raise ValueError(
                "configure at least one identifier path (email_paths, shop_customer_id_paths, "
                "crm_id_paths or partner_cookie_paths): a cookie alone links nothing"
            )
        return self
