"""Magento ``searchCriteria`` query strings, and the keyset queries the brick reads streams with.

Magento's search endpoints (``/V1/carts/search``, ``/V1/orders``, ``/V1/customers/search``)
take one query grammar: filter groups are ANDed, the filters inside one group are ORed, plus
sort orders, ``pageSize`` and ``currentPage``. Parameter names are the spec's camelCase ones
(``searchCriteria[filterGroups][0][filters][0][conditionType]``).

Why keyset and not ``currentPage``: offset paging over rows that keep changing (a cart updated
between two pages moves to the end and shifts every row after it one place back, so one is
never read), and Magento answers a ``currentPage`` past the end with the last page again
instead of nothing. So every query asks for page 1 of "what comes after the position", and
the position is (timestamp, entity id) of the last record read:

- *ties*: ``time = T AND entity_id > I`` -- the rest of the records sharing the last second;
- *after*: ``time > T`` (``>= T`` before anything at ``T`` was read).

Both are plain AND-ed filter groups, which Magento can express (``(time > T) OR (time = T
AND id > I)`` in one query could not be: a group can only OR single filters).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "CARTS",
    "CUSTOMERS",
    "ORDERS",
    "Filter",
    "Position",
    "Stream",
    "search_params",
]

Params = list[tuple[str, str]]


@dataclass(frozen=True)
class Filter:
    """One ``searchCriteria`` filter: ``field conditionType value``."""

    field: str
    value: str
    condition: str = "eq"


def search_params(
    groups: Sequence[Sequence[Filter]],
    sort: Sequence[tuple[str, str]] = (),
    *,
    page_size: int,
    current_page: int = 1,
) -> Params:
    """The query parameters of one search, in a stable order (golden files compare them).

    Each inner sequence of ``groups`` is one filter group: its filters are ORed, the groups
    ANDed. ``sort`` is ``(field, "ASC" | "DESC")`` pairs, the first one primary.
    """
    params: Params = []
    for g, group in enumerate(groups):
        for f, item in enumerate(group):
            prefix = f"searchCriteria[filterGroups][{g}][filters][{f}]"
            params += [
                (f"{prefix}[field]", item.field),
                (f"{prefix}[value]", item.value),
                (f"{prefix}[conditionType]", item.condition),
            ]
    for index, (field, direction) in enumerate(sort):
        params += [
            (f"searchCriteria[sortOrders][{index}][field]", field),
            (f"searchCriteria[sortOrders][{index}][direction]", direction),
        ]
    params += [
        ("searchCriteria[pageSize]", str(page_size)),
        ("searchCriteria[currentPage]", str(current_page)),
    ]
    return params


@dataclass(frozen=True)
class Position:
    """Where a stream got to: every record up to (``at``, ``last_id``) has been read.

    ``at`` is a Magento timestamp (``YYYY-MM-DD HH:MM:SS``, UTC). ``last_id`` ``None`` means
    nothing at ``at`` itself has been read yet (the first poll's starting point).
    """

    at: str
    last_id: int | None = None


@dataclass(frozen=True)
class Stream:
    """One searchable Magento resource read in (time, entity id) order."""

    name: str
    path: str
    #: The column the stream is ordered by (``updated_at``, ``created_at``).
    time_field: str
    #: Key of the record's id in the answer (``id`` for carts and customers, ``entity_id``
    #: for orders); the filter and sort column is always ``entity_id``.
    id_key: str
    #: Filters every query of the stream carries (``is_active = 1`` for carts).
    fixed: tuple[Filter, ...] = ()
    id_field: str = "entity_id"

    def _sort(self) -> list[tuple[str, str]]:
        return [(self.time_field, "ASC"), (self.id_field, "ASC")]

    def _groups(self, upper: str, *keyset: Filter) -> list[list[Filter]]:
        bound = Filter(self.time_field, upper, "lteq")
        return [[item] for item in (*self.fixed, *keyset, bound)]

    def ties_query(self, position: Position, upper: str, page_size: int) -> Params:
        """The records at ``position.at`` after ``position.last_id``."""
        if position.last_id is None:
            raise ValueError("a ties query needs the last id read")
        groups = self._groups(
            upper,
            Filter(self.time_field, position.at, "eq"),
            Filter(self.id_field, str(position.last_id), "gt"),
        )
        return search_params(groups, self._sort(), page_size=page_size)

    def after_query(self, position: Position, upper: str, page_size: int) -> Params:
        """The records after ``position.at`` (from it, inclusive, when nothing there was read)."""
        condition = "gteq" if position.last_id is None else "gt"
        groups = self._groups(upper, Filter(self.time_field, position.at, condition))
        return search_params(groups, self._sort(), page_size=page_size)


#: Carts a shopper can still come back to: active, not empty, with an address to write to.
CARTS = Stream(
    name="carts",
    path="/V1/carts/search",
    time_field="updated_at",
    id_key="id",
    fixed=(
        Filter("is_active", "1", "eq"),
        Filter("items_count", "0", "gt"),
        Filter("customer_email", "1", "notnull"),
    ),
)

ORDERS = Stream(name="orders", path="/V1/orders", time_field="created_at", id_key="entity_id")

CUSTOMERS = Stream(
    name="customers", path="/V1/customers/search", time_field="updated_at", id_key="id"
)
