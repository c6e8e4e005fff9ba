"""Free-form attributes: checked with a named field, merged per source, sealed in the vault."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

from contracts import Contact
from hub.contacts.apply import apply_contacts
from hub.contacts.attributes import (
    ATTRIBUTES_FIELD,
    AttributeProblem,
    check_attributes,
    read_attributes,
    write_attributes,
)
from hub.contacts.importer import import_contacts
from hub.storage.db import session_scope
from hub.storage.models import VaultEntry

scalars = st.one_of(st.text(max_size=50), st.integers(), st.booleans(), st.floats(allow_nan=False))
names = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)


@given(st.dictionaries(names, st.one_of(scalars, st.lists(scalars, max_size=5)), max_size=10))
def test_valid_attributes_pass_unchanged(attributes):
    assert check_attributes(attributes) == attributes


@pytest.mark.parametrize(
    ("attributes", "field"),
    [
        ({"Interests": "x"}, "attributes.Interests"),
        ({"nested": {"a": 1}}, "attributes.nested"),
        ({"tags": ["ok", {"a": 1}]}, "attributes.tags.1"),
        ({"ratio": float("nan")}, "attributes.ratio"),
        ({"note": "x" * 1025}, "attributes.note"),
        ({f"a{i}": i for i in range(65)}, "attributes"),
    ],
    ids=["upper-case", "nested", "list-item", "nan", "long-text", "too-many"],
)
def test_bad_attributes_name_the_field(attributes, field):
    with pytest.raises(AttributeProblem) as caught:
        check_attributes(attributes)
    assert caught.value.field == field


def test_updates_merge_and_null_removes(runtime):
    with session_scope(runtime.engine) as session:
        [ada] = _customers(runtime, session, 1)
        assert write_attributes(session, runtime.vault, [(ada, {"a": 1, "b": ["x"]})]) == [True]
        assert write_attributes(session, runtime.vault, [(ada, {"a": 1})]) == [False]
        assert write_attributes(session, runtime.vault, [(ada, {"b": None, "c": True})]) == [True]
        assert read_attributes(session, runtime.vault, [ada]) == {ada: {"a": 1, "c": True}}
        [entry] = session.exec(select(VaultEntry).where(VaultEntry.field == ATTRIBUTES_FIELD))
        assert b"true" not in entry.ciphertext  # sealed, not stored in clear


def _customers(runtime, session, count):
    contacts = [
        Contact.model_validate({"identifiers": [{"kind": "email", "value": f"p{i}@example.com"}]})
        for i in range(count)
    ]
    return [r.customer_id for r in apply_contacts(session, runtime.identity, contacts, source="t")]


def test_csv_attr_columns_and_jsonl_attributes_are_imported(runtime, tmp_path):
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("email,attr.loyalty_tier\nada@example.com,gold\n", encoding="utf-8")
    jsonl = tmp_path / "people.jsonl"
    jsonl.write_text(
        '{"email": "bob@example.com", "attributes": {"interests": ["cycling"]}}\n'
        '{"email": "eve@example.com", "attributes": ["not", "an", "object"]}\n',
        encoding="utf-8",
    )
    import_contacts(runtime.engine, runtime.identity, runtime.vault, csv_file, source="f")
    report = import_contacts(runtime.engine, runtime.identity, runtime.vault, jsonl, source="f")
    assert [(r.line, r.field) for r in report.rejected] == [(2, "attributes")]
    with session_scope(runtime.engine) as session:
        rows = session.exec(select(VaultEntry).where(VaultEntry.field == ATTRIBUTES_FIELD))
        stored = read_attributes(session, runtime.vault, [r.customer_id for r in rows])
    assert sorted(map(str, stored.values())) == [
        "{'interests': ['cycling']}",
        "{'loyalty_tier': 'gold'}",
    ]
