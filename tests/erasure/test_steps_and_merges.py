"""Erase calls go through the core's retries; a merged person is erased whole; dead letters
are recognised however the contact point was written."""

from __future__ import annotations

import base64
import os
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from contracts import Identifier, IdentifierKind
from hub.erasure.forget import forget
from hub.erasure.letters import _names
from hub.identity.keys import KeyRing
from hub.identity.service import IdentityService
from hub.identity.vault import Vault
from hub.storage.models import Customer, ErasureRequest, IdentityMerge, Suppression
from tests.erasure.conftest import ADA, Hub, Memo, people_csv
from tests.erasure.test_forget import customer_id_of


def test_erase_calls_are_retried_by_the_core(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    row = {**ADA, "consent_email": "yes"}
    assert hub.cli("contacts", "import", str(hub.write("p.csv", people_csv(row)))).code == 0
    assert hub.cli("contacts", "sync", "--from", "hub", "--to", "memo").code == 0
    ada = customer_id_of(hub, ADA["email"])
    monkeypatch.setenv("HUB_SENDING__MAX_ATTEMPTS", "3")
    Memo.failures = 2
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    report = hub.run(lambda runtime: forget(runtime, ada, sleep=sleep))
    [step] = report.steps
    assert step.status == "done" and step.attempts == 1
    assert len(Memo.erase_calls) == 3 and len(waits) == 2
    assert report.complete


def test_a_merged_person_is_erased_whole(hub: Hub) -> None:
    rows = [{"email": ADA["email"], "consent_email": "yes"},
            {"phone": ADA["phone"], "first_name": "A."}]
    for index, row in enumerate(rows):
        path = hub.write(f"p{index}.csv", people_csv(row))
        assert hub.cli("contacts", "import", str(path)).code == 0
    assert hub.cli("contacts", "sync", "--from", "hub", "--to", "memo").code == 0
    customer_id_of_email = customer_id_of(hub, ADA["email"])
    runtime = hub.runtime()
    with hub.session(runtime) as session:
        by_phone = runtime.identity.find(
            session, Identifier(kind=IdentifierKind.PHONE, value=ADA["phone"])
        )
    sms = hub.cli("send", "--customer", str(by_phone), "--channel", "sms", "--scenario",
                  "order_confirmation", "--template", "t", "--brick", "outbox")
    assert sms.code == 0, sms.err
    with hub.session(runtime) as session:
        runtime.identity.resolve(
            session,
            [Identifier(kind=IdentifierKind.EMAIL, value=ADA["email"], verified=True),
             Identifier(kind=IdentifierKind.PHONE, value=ADA["phone"], verified=True)],
            source="shop",
        )
    with hub.session(runtime) as session:
        [merge] = session.exec(select(IdentityMerge)).all()
    survivor, absorbed = merge.survivor_id, merge.absorbed_id
    report = hub.run(lambda rt: forget(rt, absorbed))  # naming the absorbed one is enough
    assert report.customers == [survivor, absorbed]
    assert report.complete and len(Memo.erase_calls) == 1
    steps = {(s.customer_id, s.brick): s.status for s in report.steps}
    assert steps == {
        (customer_id_of_email, "memo"): "done",
        (by_phone, "outbox"): "not_applicable",
    }
    with hub.session(runtime) as session:
        statuses = {c.id: c.status for c in session.exec(select(Customer))}
        assert statuses == {survivor: "erased", absorbed: "erased"}
        assert session.exec(select(IdentityMerge)).all() == []
        requests = session.exec(select(ErasureRequest)).all()
        assert sorted(r.customer_id for r in requests) == sorted([survivor, absorbed])
        assert {s.kind for s in session.exec(select(Suppression))} == {"email", "phone"}


def _identity() -> IdentityService:
    def key() -> str:
        return base64.b64encode(os.urandom(32)).decode()

    keys = KeyRing(
        pepper=base64.b64decode(key()),
        master_key=base64.b64decode(key()),
        pseudonym_key=base64.b64decode(key()),
    )
    return IdentityService(keys, Vault(keys), default_region="FR", link_ttl=timedelta(days=1))


IDENTITY = _identity()
DIGESTS = {
    IDENTITY.normalise(Identifier(kind=IdentifierKind.EMAIL, value="ada@example.org")).digest,
    IDENTITY.normalise(Identifier(kind=IdentifierKind.PHONE, value="+33612345678")).digest,
}
SPELLINGS = st.sampled_from([
    "ada@example.org", " ADA@Example.ORG ", "Ada@example.org",
    "+33612345678", "06 12 34 56 78", "0612345678", "+33 (0)6 12 34 56 78",
])
NOISE = st.text(alphabet="abcdefghij -_.", max_size=12)


def _tree(leaf: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaf,
        lambda inner: st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["note", "items", "x", "email", "raw"]), inner,
                          max_size=3),
        max_leaves=8,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(noise=_tree(NOISE), spelling=SPELLINGS, wrap=st.sampled_from(["list", "dict", "id"]))
def test_a_letter_naming_the_person_is_found_however_written(
    noise: Any, spelling: str, wrap: str
) -> None:
    assert not _names(IDENTITY, noise, DIGESTS, {"cus_ada"})
    if wrap == "id":
        payload: Any = {"identifiers": [{"kind": "email" if "@" in spelling else "phone",
                                         "value": spelling}], "other": noise}
    elif wrap == "list":
        payload = [noise, spelling]
    else:
        payload = {"row": {"free": spelling}, "noise": noise}
    assert _names(IDENTITY, payload, DIGESTS, {"cus_ada"})
    assert _names(IDENTITY, {"customer_id": "cus_ada", "n": noise}, DIGESTS, {"cus_ada"})
