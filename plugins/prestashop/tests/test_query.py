"""Query building: filters, sort, limit, date=1, and the two-call keyset page."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from contracts import PayloadRejected
from plugins.prestashop.query import (
    MAX_ID,
    Position,
    decode_cursor,
    encode_cursor,
    id_filter,
    list_params,
    read_keyset,
)


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


def test_list_params_order_and_syntax() -> None:
    params = list_params(
        display=("id", "email"),
        filters={"id_customer": "[1,9]", "date_upd": "[2026-01-01 00:00:00,2026-01-02 00:00:00]"},
        sort=("date_upd_ASC", "id_ASC"),
        limit=(0, 50),
        date=True,
    )
    assert params == [
        ("output_format", "JSON"),
        ("display", "[id,email]"),
        ("filter[id_customer]", "[1,9]"),
        ("filter[date_upd]", "[2026-01-01 00:00:00,2026-01-02 00:00:00]"),
        ("sort", "[date_upd_ASC,id_ASC]"),
        ("limit", "0,50"),
        ("date", "1"),
    ]


def test_list_params_minimal() -> None:
    assert list_params() == [("output_format", "JSON"), ("display", "full")]


def test_id_filter_is_an_or_list_of_distinct_sorted_ids() -> None:
    assert id_filter([7, 3, 7, 12]) == "[3|7|12]"
    assert id_filter([5]) == "[5]"
    with pytest.raises(ValueError, match="at least one"):
        id_filter([])


class Recorder:
    """A fetch that answers canned pages and keeps the parameters it was called with."""

    def __init__(self, *answers: list[dict]) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, str]] = []

    async def __call__(self, params):
        self.calls.append(dict(params))
        return self.answers.pop(0)


def row(row_id: int, date: str) -> dict:
    return {"id": row_id, "date_upd": date}


def read(fetch, position, upper, limit=3, **kwargs):
    return asyncio.run(
        read_keyset(
            fetch,
            resource="carts",
            field="date_upd",
            position=position,
            upper=at(upper),
            limit=limit,
            **kwargs,
        )
    )


def test_position_without_id_reads_strictly_later_seconds_up_to_the_bound() -> None:
    fetch = Recorder([row(4, "2026-01-01 10:00:05")])
    page = read(fetch, Position(at("2026-01-01 10:00:00")), "2026-01-01 11:00:00")
    assert fetch.calls == [
        {
            "output_format": "JSON",
            "display": "full",
            "filter[date_upd]": "[2026-01-01 10:00:01,2026-01-01 11:00:00]",
            "sort": "[date_upd_ASC,id_ASC]",
            "limit": "0,3",
            "date": "1",
        }
    ]
    assert [r["id"] for r in page.rows] == [4]
    assert page.position == Position(at("2026-01-01 11:00:00"), None)
    assert not page.has_more


def test_position_inside_a_second_reads_its_ties_first() -> None:
    fetch = Recorder([row(8, "2026-01-01 10:00:00")], [row(2, "2026-01-01 10:30:00")])
    page = read(
        fetch,
        Position(at("2026-01-01 10:00:00"), 5),
        "2026-01-01 11:00:00",
        filters={"id_customer": f"[1,{MAX_ID}]"},
    )
    ties, later = fetch.calls
    assert ties["filter[date_upd]"] == "[2026-01-01 10:00:00]"
    assert ties["filter[id]"] == f"[6,{MAX_ID}]"
    assert ties["filter[id_customer]"] == f"[1,{MAX_ID}]"
    assert ties["sort"] == "[id_ASC]"
    assert ties["date"] == "1"
    assert later["filter[date_upd]"] == "[2026-01-01 10:00:01,2026-01-01 11:00:00]"
    assert later["limit"] == "0,2"  # the page has room for 3 - 1 tie
    assert [r["id"] for r in page.rows] == [8, 2]
    assert not page.has_more


def test_a_full_tie_page_stops_inside_the_second() -> None:
    fetch = Recorder([row(6, "2026-01-01 10:00:00"), row(7, "2026-01-01 10:00:00")])
    page = read(fetch, Position(at("2026-01-01 10:00:00"), 5), "2026-01-01 11:00:00", limit=2)
    assert len(fetch.calls) == 1
    assert page.position == Position(at("2026-01-01 10:00:00"), 7)
    assert page.has_more


def test_a_full_later_page_ends_on_its_last_row() -> None:
    fetch = Recorder([row(9, "2026-01-01 10:10:00"), row(3, "2026-01-01 10:20:00")])
    page = read(fetch, Position(at("2026-01-01 10:00:00")), "2026-01-01 11:00:00", limit=2)
    assert page.position == Position(at("2026-01-01 10:20:00"), 3)
    assert page.has_more


def test_no_call_when_the_bound_is_not_after_the_position() -> None:
    # PrestaShop sorts interval bounds: [later,earlier] would read backwards. Never ask it.
    fetch = Recorder()
    page = read(fetch, Position(at("2026-01-01 10:00:00")), "2026-01-01 10:00:00")
    assert fetch.calls == []
    assert page.position == Position(at("2026-01-01 10:00:00"), None)
    assert not page.has_more


def test_a_row_without_a_date_is_refused_naming_the_field() -> None:
    fetch = Recorder([{"id": 3, "date_upd": "yesterday"}])
    with pytest.raises(PayloadRejected) as caught:
        read(fetch, Position(at("2026-01-01 10:00:00")), "2026-01-01 11:00:00", limit=1)
    assert caught.value.field == "carts.date_upd"


def test_cursor_round_trip_and_opaque_text() -> None:
    positions = {
        "carts": Position(at("2026-01-01 10:00:00"), 12),
        "orders": Position(at("2026-01-01 09:00:00"), None),
    }
    text = encode_cursor(positions)
    assert text == (
        '{"carts":{"at":"2026-01-01 10:00:00","id":12},'
        '"orders":{"at":"2026-01-01 09:00:00","id":null},"v":1}'
    )
    assert decode_cursor(text, ["carts", "orders"]) == positions


@pytest.mark.parametrize(
    "cursor",
    [
        "not json",
        "[]",
        '{"v":2,"carts":{"at":"2026-01-01 10:00:00","id":1}}',
        '{"v":1}',
        '{"v":1,"carts":{"at":"2026-13-01 10:00:00","id":1}}',
        '{"v":1,"carts":{"at":"2026-01-01 10:00:00","id":-1}}',
        '{"v":1,"carts":{"at":"2026-01-01 10:00:00","id":"1"}}',
    ],
    ids=["text", "list", "version", "missing", "bad-date", "negative-id", "string-id"],
)
def test_foreign_cursors_are_refused_naming_the_cursor(cursor: str) -> None:
    with pytest.raises(PayloadRejected) as caught:
        decode_cursor(cursor, ["carts"])
    assert caught.value.field == "cursor"
