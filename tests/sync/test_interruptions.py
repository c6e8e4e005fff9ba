"""A Ctrl-C between two vendor calls (while the next page is read): the batch the sink already
answered is still confirmed, the batch audited for the next call has its audit rows withdrawn,
and the next run sends everyone else once, on both backends."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from hub.storage.db import session_scope
from hub.storage.models import AuditEntry, SinkContact, table
from hub.sync.report import SinkReport
from tests.sync.conftest import Crm, contact

N = 1500  # three Brevo import batches of 500, over two feed pages of 1,000


class _CtrlCAfterFirstPage:
    """Progress that raises KeyboardInterrupt once the first page was handled: its first
    batch was sent, the second is audited and waits for the next page (so that the third's
    audit can ride in the thread during its call)."""

    def pulled(self, records: int) -> None:
        return None

    def start(self, sink: str, total: int) -> None:
        return None

    def advance(self, sink: str, read: int) -> None:
        raise KeyboardInterrupt

    def finish(self, report: SinkReport) -> None:
        return None


def _held_and_audited(hub) -> tuple[int, Counter[str]]:
    audit = table(AuditEntry)
    with session_scope(hub.runtime.engine) as session:
        held = session.execute(select(func.count()).select_from(table(SinkContact))).scalar_one()
        audited = Counter(
            session.execute(
                select(audit.c.pseudonym).where(
                    audit.c.brick == "brevo", audit.c.action == "egress"
                )
            ).scalars()
        )
    return held, audited


def test_a_ctrl_c_between_calls_keeps_the_answer_and_withdraws_the_next_batch(hub, vendors):
    Crm.serve([contact(i) for i in range(N)])
    with pytest.raises(KeyboardInterrupt):
        hub.sync("brevo", progress=_CtrlCAfterFirstPage())
    sent = vendors.delivered("brevo")
    assert len(sent) == 500
    held, audited = _held_and_audited(hub)
    assert held == 500, "the answer is confirmed though its commit was still to come"
    # The second batch, audited for a call that never happened, left no audit row.
    assert set(audited) == set(sent) and max(audited.values()) == 1

    report = hub.sync("brevo")
    assert report.exit_code == 0
    sent = vendors.delivered("brevo")
    assert len(sent) == len(set(sent)) == N
    held, audited = _held_and_audited(hub)
    assert held == N and set(audited) == set(sent) and max(audited.values()) == 1
