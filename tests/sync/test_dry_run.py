"""``--dry-run``: the summary a real run would give and a masked sample diff, nothing written
anywhere (no table changes, no vendor call, no cursor), with or without a source."""

from __future__ import annotations

import json
import re

from sqlalchemy import func, select

from hub.storage.models import metadata
from tests.sync.conftest import SUMMARIES, Crm, contact

KINDS = ("granted", "granted", "denied", "none")


def _people(count: int = 24) -> list:
    return [contact(i, email=KINDS[i % 4], push=i % 4 == 0) for i in range(count)]


def _counts(hub) -> dict[str, int]:
    with hub.runtime.engine.connect() as connection:
        return {
            t.name: connection.execute(select(func.count()).select_from(t)).scalar_one()
            for t in metadata.sorted_tables
        }


def _numbers(report) -> list[tuple[int, ...]]:
    return [
        (s.read, s.created, s.updated, s.unsubscribed, s.unchanged, s.skipped_by_consent,
         s.skipped_inactive)
        for s in report.sinks
    ]


def test_a_dry_run_with_a_source_writes_nothing_and_predicts_the_real_run(hub, vendors):
    Crm.serve(_people())
    before = _counts(hub)
    dry = hub.sync(dry_run=True)
    assert _counts(hub) == before
    assert vendors.calls == [] and SUMMARIES == []
    real = hub.sync()
    assert _numbers(dry) == _numbers(real) == [(24, 12, 0, 0, 0, 12, 0), (24, 6, 0, 0, 0, 18, 0)]
    assert dry.pull is not None and real.pull is not None
    assert (dry.pulled, dry.pull.created) == (real.pulled, real.pull.created) == (24, 24)
    assert [b.size for b in dry.sinks[0].batches] == [12]


def test_the_sample_diff_is_masked_and_names_what_changes(hub, vendors):
    Crm.serve(_people())
    hub.sync()
    calls = len(vendors.calls)
    # At the source: person 1 renamed, person 0 withdraws email consent.
    Crm.serve([*_people(), contact(1, first_name="Augusta"), contact(0, email="denied", push=True)])
    before = _counts(hub)
    dry = hub.sync("brevo", dry_run=True)
    assert _counts(hub) == before and len(vendors.calls) == calls
    brevo = dry.sinks[0]
    assert (brevo.read, brevo.updated, brevo.unsubscribed) == (2, 1, 1)
    by_action = {item["action"]: item for item in brevo.sample}
    update, unsubscribe = by_action["update"], by_action["unsubscribe"]
    assert update["fields"] == {"email": "p***@e***.org", "first_name": "A***",
                                "last_name": "L***"}
    assert (update["added"], update["removed"]) == ([], [])
    assert unsubscribe["opted_out"] == ["email"]
    text = json.dumps(dry.as_json())
    assert "example.org" not in text and "Augusta" not in text and "Lovelace" not in text
    assert all(re.fullmatch(r"ps_\w{7}\.\.\.", item["pseudonym"]) for item in brevo.sample)
    real = hub.sync("brevo")
    assert _numbers(real) == _numbers(dry)


def test_a_dry_run_from_the_hub_store_writes_nothing(hub, vendors):
    Crm.serve(_people(8))
    hub.sync()
    before, calls = _counts(hub), len(vendors.calls)
    dry = hub.sync(source="hub", dry_run=True, full=True)
    assert _counts(hub) == before and len(vendors.calls) == calls
    assert _numbers(dry) == [(8, 0, 4, 0, 0, 4, 0), (8, 0, 2, 0, 0, 6, 0)]
