"""An audience push planned without HTTP: which profiles to alias, set and clear.

Members arrive keyed by the brick's pseudonym and the Unomi profile ids (site cookies) the hub
matched for the person; never an email or the hub's id. Unomi profile ids are checked against
Unomi's id pattern before they go into a URL or an event; a value that looks like an email
address or a hub customer id is dropped, whatever the caller passed, so neither can leave the
hub through this brick.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contracts import AudienceMember, PayloadRejected
from plugins.unomi.settings import UNOMI_ID

__all__ = ["MemberProfiles", "Plan", "is_member_value", "plan_members"]

_HUB_ID = re.compile(r"cus_[a-z2-7]{8,}", re.I)


def _usable_profile_id(value: str) -> bool:
    return bool(UNOMI_ID.fullmatch(value)) and "@" not in value and not _HUB_ID.search(value)


@dataclass(frozen=True)
class MemberProfiles:
    """One member: the pseudonym (the alias) and its Unomi profiles, in the order given."""

    pseudonym: str
    profiles: tuple[str, ...]


@dataclass
class Plan:
    """Members with at least one usable profile, every member profile once (first seen
    first), and how many cookie ids were dropped."""

    members: list[MemberProfiles] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    dropped_cookies: int = 0
    without_cookie: int = 0


def plan_members(members: Sequence[AudienceMember]) -> Plan:
    """Sort the members out; a pseudonym Unomi cannot take as an alias id refuses the push
    (the core issues ``ps_`` + base32 ones, so this is a bug upstream, not a data problem)."""
    plan = Plan()
    profiles: dict[str, None] = {}
    for index, member in enumerate(members):
        if not UNOMI_ID.fullmatch(member.pseudonym):
            raise PayloadRejected(
                f"member {index}: the pseudonym is not usable as a Unomi alias id",
                field=f"members.{index}.pseudonym",
            )
        usable = [c.strip() for c in member.cookie_ids if _usable_profile_id(c.strip())]
        usable = list(dict.fromkeys(usable))
        plan.dropped_cookies += len(member.cookie_ids) - len(usable)
        if not usable:
            plan.without_cookie += 1
            continue
        plan.members.append(MemberProfiles(member.pseudonym, tuple(usable)))
        profiles.update(dict.fromkeys(usable))
    plan.profiles = list(profiles)
    return plan


def is_member_value(profile: Mapping[str, Any], audience_property: str, name: str) -> bool:
    """Whether a profile from a search already carries the membership flag set to true
    (Unomi may keep it as a boolean or, through its bean utilities, as the text ``"true"``)."""
    properties = profile.get("properties")
    if not isinstance(properties, Mapping):
        return False
    audiences = properties.get(audience_property)
    if not isinstance(audiences, Mapping):
        return False
    value = audiences.get(name)
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")
