"""The set-wise views are the views ``hub.egress.build_view`` gives, one person at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts import Channel, ContactView, Purpose
from hub.egress import build_view
from hub.storage.db import session_scope
from hub.sync.feed import read_feed
from hub.sync.plan import Action, Decision, decide, read_page
from hub.sync.views import Held, ViewMaker
from tests.sync.conftest import WHEN, Crm, contact


def _one_person(hub) -> str:
    consents = [
        {"channel": channel, "status": status, "source": "crm", "recorded_at": WHEN}
        for channel, status in (("email", "granted"), ("push", "granted"), ("sms", "denied"))
    ]
    Crm.serve([contact(0, push=True, time_zone="Europe/Paris", consents=consents),
               contact(1, email="denied")])
    hub.sync("brevo", settle=timedelta(0))
    with session_scope(hub.runtime.engine) as session:
        found = hub.runtime.identity.find(session, contact(0).identifiers[0])
    assert found
    return found


@pytest.mark.parametrize("sink", ["brevo", "onesignal"])
def test_batch_views_equal_build_view(hub, vendors, sink):
    customer = _one_person(hub)
    runtime = hub.runtime
    configured = runtime.bricks[sink]
    maker = ViewMaker(runtime.keys, runtime.vault, sink, configured.allowed_fields)
    channels = frozenset(configured.cls.channels)
    with session_scope(runtime.engine) as s:
        items = [i for i in read_feed(s, None, upper=None, limit=10) if i.customer_id == customer]
        read = read_page(s, maker, sink, channels, items)
        one = build_view(s, runtime.identity, configured, customer, purpose=Purpose.MARKETING,
                         request_id="equivalence")
        s.rollback()  # build_view wrote an audit row: not wanted here
    [built] = maker.views(read.needing_view, read.consents, read.sealed).values()
    assert built.view.model_dump() == one.model_dump()
    assert ContactView.model_validate(built.view.model_dump()) == one
    assert built.view.opted_out == one.opted_out == {Channel.SMS}
    assert built.fields == tuple(f.value for f in one.fields_present())
    assert maker.pseudonym(customer) == runtime.keys.pseudonym(sink, customer)


def test_opted_out_channels_are_channels():
    from hub.sync.views import opted_out

    out = opted_out({"email": "denied", "sms": "granted", "push": "denied"})
    assert out == {Channel.EMAIL, Channel.PUSH}
    assert all(isinstance(c, Channel) for c in out)


HELD = Held("present", "d1", "email")


@pytest.mark.parametrize(
    ("status", "allowed", "held", "digest", "full", "expected"),
    [
        ("erased", True, HELD, "d1", True, (Decision.SKIPPED_INACTIVE, None)),
        ("suppressed", True, None, "d1", False, (Decision.SKIPPED_INACTIVE, None)),
        ("objected", False, HELD, None, False, (Decision.SKIPPED_INACTIVE, None)),
        ("merged", True, None, "d1", False, (Decision.SKIPPED_INACTIVE, None)),
        ("active", False, None, None, False, (Decision.SKIPPED_BY_CONSENT, None)),
        ("active", False, HELD, "d1", False, (Decision.PUSH, Action.UNSUBSCRIBE)),
        ("active", False, Held("unsubscribed", "d1", ""), "d1", True,
         (Decision.SKIPPED_BY_CONSENT, None)),
        ("active", True, None, "d1", False, (Decision.PUSH, Action.CREATE)),
        ("active", True, Held("erased", None, ""), "d1", False, (Decision.PUSH, Action.CREATE)),
        ("active", True, HELD, "d1", False, (Decision.UNCHANGED, None)),
        ("active", True, HELD, "d1", True, (Decision.PUSH, Action.UPDATE)),
        ("active", True, HELD, "d2", False, (Decision.PUSH, Action.UPDATE)),
        ("active", True, Held("unsubscribed", "d1", ""), "d1", False,
         (Decision.PUSH, Action.UPDATE)),
    ],
    ids=[
        "erased", "suppressed", "objected", "merged", "no-consent", "consent-gone-held",
        "told-once", "new", "erased-row", "unchanged", "full", "changed", "consent-back",
    ],
)
def test_the_rule_table(status, allowed, held, digest, full, expected):
    assert decide(status=status, allowed=allowed, held=held, digest=digest, full=full) == expected
