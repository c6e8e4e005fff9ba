"""Finding an erased person in the dead letters, which are sealed with a core key, not theirs.

Dead letters keep refused input so it can be replayed (an import row with a bad locale, an
event for an unknown cookie, a send that failed): destroying the person's data key does not
make those unreadable. Nothing links a letter to a customer but its content, so erasure opens
every letter once and drops those that name the person:

* an identifier whose keyed digest is one of theirs: ``{"kind", "value", "namespace"}``
  objects (events, contacts, links), import-row columns (``email``, ``phone``,
  ``shop_customer_id``, ``crm_id``), and any other text that normalises as an email or a
  phone number;
* their customer id or one of their pseudonyms (send and propagation letters);
* a letter parked under one of their cookies' digests.

It reads every letter, in pages by id: erasure is rare, and a person's data hiding in a letter
is what it must not miss.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Set
from typing import Any

from sqlalchemy import delete, select
from sqlmodel import Session, col
from sqlmodel import select as sqlmodel_select

from contracts import IdentifierKind
from hub.dead_letters import open_payload
from hub.identity.normalize import InvalidIdentifier, normalize_identifier
from hub.identity.service import IdentityService
from hub.identity.vault import VaultError
from hub.storage.db import chunks
from hub.storage.models import DeadLetter, ParkedLetter, table

__all__ = ["delete_letters", "letters_about"]

_LETTERS = table(DeadLetter)
_PARKED = table(ParkedLetter)
_PAGE = 500
_COLUMNS = {kind.value: kind for kind in IdentifierKind}
_PHONE_LIKE = re.compile(r"(?:\D*\d){6,}")


def _strings(value: Any, key: str | None = None) -> Iterator[tuple[str | None, str]]:
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _strings(item, str(name))
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, key)


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from _objects(item)


def _digest(identity: IdentityService, kind: IdentifierKind, value: str, namespace: str) -> str:
    normalised = normalize_identifier(
        kind, value, default_region=identity.default_region, junk=identity.junk
    )
    return identity.keys.digest(kind.value, namespace, normalised)


def _names(identity: IdentityService, payload: Any, digests: Set[str], words: Set[str]) -> bool:
    """Does this payload name the person?"""
    for obj in _objects(payload):
        kind, value = obj.get("kind"), obj.get("value")
        if isinstance(kind, str) and isinstance(value, str) and kind in _COLUMNS:
            namespace = obj.get("namespace") if isinstance(obj.get("namespace"), str) else ""
            try:
                if _digest(identity, _COLUMNS[kind], value, namespace or "") in digests:
                    return True
            except InvalidIdentifier:
                pass
    for key, text in _strings(payload):
        if text in words:
            return True
        candidates = []
        if key in _COLUMNS:
            candidates.append(_COLUMNS[key])
        if "@" in text:
            candidates.append(IdentifierKind.EMAIL)
        if _PHONE_LIKE.match(text):
            candidates.append(IdentifierKind.PHONE)
        for kind in candidates:
            try:
                if _digest(identity, kind, text, "") in digests:
                    return True
            except InvalidIdentifier:
                continue
    return False


def letters_about(
    session: Session,
    identity: IdentityService,
    *,
    digests: Set[str],
    words: Set[str],
    cookie_digests: Set[str],
) -> list[int]:
    """Ids of the dead letters naming the person (see the module docstring)."""
    found: set[int] = set()
    for chunk in chunks(sorted(cookie_digests)):
        found.update(
            session.execute(
                select(_PARKED.c.dead_letter_id).where(_PARKED.c.digest.in_(chunk))
            ).scalars()
        )
    after = 0
    while True:
        letters = list(
            session.exec(
                sqlmodel_select(DeadLetter)
                .where(col(DeadLetter.id) > after)
                .order_by(col(DeadLetter.id))
                .limit(_PAGE)
            )
        )
        if not letters:
            return sorted(found)
        for letter in letters:
            after = letter.id or 0
            if after in found:
                continue
            try:
                payload = open_payload(identity.vault, letter)
            except (VaultError, ValueError):  # an unreadable letter names nobody
                continue
            if _names(identity, payload, digests, words):
                found.add(after)


def delete_letters(session: Session, ids: list[int]) -> int:
    for chunk in chunks(ids):
        session.execute(delete(_PARKED).where(_PARKED.c.dead_letter_id.in_(chunk)))
        session.execute(delete(_LETTERS).where(_LETTERS.c.id.in_(chunk)))
    return len(ids)
