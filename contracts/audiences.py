"""Audiences pushed to a DMP, and identity links read from one."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.customers import Identifier, _require_aware

__all__ = ["Audience", "AudienceMember", "IdentityLink", "LinkEvidence"]


class Audience(BaseModel):
    """A named segment the hub computed (e.g. "big spenders interested in cycling")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_\-]*$", max_length=128)
    description: str = Field(default="", max_length=1000)


class AudienceMember(BaseModel):
    """A member keyed by the sink's pseudonym or matched cookie ids, never by email or hub id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pseudonym: str = Field(min_length=16)
    cookie_ids: list[str] = Field(default_factory=list, repr=False)


class LinkEvidence(StrEnum):
    """Why a source believes two identifiers belong to one person."""

    LOGIN = "login"
    PURCHASE = "purchase"
    NEWSLETTER_CLICK = "newsletter_click"
    ANONYMOUS = "anonymous"


class IdentityLink(BaseModel):
    """A claim that several identifiers are the same person (DMP cookie matching).

    Only links with verifying evidence (anything but ``anonymous``) may change who is who.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    identifiers: list[Identifier] = Field(min_length=2)
    evidence: LinkEvidence
    observed_at: datetime
    source_event_id: str | None = Field(default=None, max_length=256)

    _aware = field_validator("observed_at")(_require_aware)
