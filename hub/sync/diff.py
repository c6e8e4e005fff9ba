"""The dry run's sample diff: what a few contacts would look like at the sink, masked.

The hub keeps no copy of what a sink holds (only a keyed digest of the last view and its field
names), so an update shows the fields the sink would now receive with masked values, plus the
field names added or removed since the last push. Values are masked the way ``hub contacts
show`` masks them: enough to recognise a record, not to contact the person.
"""

from __future__ import annotations

from typing import Any

from hub.cli.output import mask
from hub.sync.plan import Planned

__all__ = ["SAMPLE_SIZE", "sample_item"]

#: Contacts shown per sink.
SAMPLE_SIZE = 5


def sample_item(planned: Planned) -> dict[str, Any]:
    view = planned.view
    now = planned.fields
    values = {name: mask(name, str(getattr(view, name))) for name in now}
    item: dict[str, Any] = {
        # A pseudonym is no contact point, but the start is enough to find it in the audit.
        "pseudonym": view.pseudonym[:10] + "...",
        "action": planned.action.value,
        "fields": values,
    }
    if planned.previous_fields is not None:
        before = {name for name in planned.previous_fields.split(",") if name}
        item["added"] = sorted(set(now) - before)
        item["removed"] = sorted(before - set(now))
    if view.opted_out:
        item["opted_out"] = sorted(c.value for c in view.opted_out)
    return item
