"""Contact sync: per-contact upsert, batch import threshold, 150-split list adds, erase."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import respx

from contracts import AuthFailed, PayloadRejected, RateLimited, Retryable
from plugins.brevo.brick import LIST_ADD_LIMIT
from plugins.brevo.tests.helpers import BASE, EMAIL, PSEUDONYM, make_brick, sent_json, view


def many(count: int) -> list:
    return [view(f"ps_brevobatch{i:012d}xx", email=f"user{i}@example.org") for i in range(count)]


def test_upsert_posts_contact_keyed_by_ext_id() -> None:
    contact = view(phone="+33612345678", locale="fr-FR", time_zone="Europe/Paris")
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        route = mock.post("/contacts").respond(201, json={"id": 21})
        results = asyncio.run(make_brick().upsert([contact]))
    assert results[0].pseudonym == PSEUDONYM and results[0].created and results[0].error is None
    assert sent_json(route) == {
        "ext_id": PSEUDONYM,
        "email": EMAIL,
        "attributes": {"FIRSTNAME": "Ada", "LASTNAME": "Lovelace", "SMS": "+33612345678"},
        "listIds": [3],
        "updateEnabled": True,
    }


def test_upsert_uses_configured_attribute_names_only() -> None:
    brick = make_brick(attributes={"first_name": "PRENOM", "locale": "LANGUE"}, list_ids=[])
    contact = view(phone="+33612345678", locale="fr-FR")
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        route = mock.post("/contacts").respond(204)
        results = asyncio.run(brick.upsert([contact]))
    assert not results[0].created
    body = sent_json(route)
    assert body["attributes"] == {"PRENOM": "Ada", "LANGUE": "fr-FR"}
    assert "listIds" not in body
    assert "+33612345678" not in json.dumps(body) and "Lovelace" not in json.dumps(body)


def test_upsert_of_a_pseudonym_only_view_sends_only_ext_id() -> None:
    from contracts import ContactView

    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        route = mock.post("/contacts").respond(201, json={"id": 2})
        asyncio.run(make_brick(list_ids=[]).upsert([ContactView(pseudonym=PSEUDONYM)]))
    assert sent_json(route) == {"ext_id": PSEUDONYM, "updateEnabled": True}


def test_refused_contact_gets_its_own_error_others_go_on() -> None:
    contacts = many(3)
    answers = iter(
        [
            httpx.Response(201, json={"id": 1}),
            httpx.Response(
                400,
                json={
                    "code": "duplicate_parameter",
                    "message": "email user1@example.org is already associated with another Contact",
                    "metadata": {"duplicate_identifiers": ["email"]},
                },
            ),
            httpx.Response(204),
        ]
    )
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        mock.post("/contacts").mock(side_effect=lambda request: next(answers))
        results = asyncio.run(make_brick().upsert(contacts))
    assert [r.pseudonym for r in results] == [c.pseudonym for c in contacts]
    assert [r.created for r in results] == [True, False, False]
    assert results[0].error is None and results[2].error is None
    assert results[1].error is not None and "user1@example.org" not in results[1].error


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(429, headers={"x-sib-ratelimit-reset": "3"}), RateLimited),
        (httpx.Response(502), Retryable),
        (httpx.Response(403, json={"code": "permission_denied", "message": "no"}), AuthFailed),
    ],
)
def test_whole_call_failures_raise(response: httpx.Response, error: type) -> None:
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        mock.post("/contacts").mock(return_value=response)
        with pytest.raises(error):
            asyncio.run(make_brick().upsert(many(2)))


def test_batch_at_threshold_stays_per_contact() -> None:
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        single = mock.post("/contacts").respond(204)
        asyncio.run(make_brick(import_threshold=3).upsert(many(3)))
    assert single.call_count == 3


def test_batch_above_threshold_is_one_import_job() -> None:
    contacts = many(4)
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        route = mock.post("/contacts/import").respond(202, json={"processId": 78})
        results = asyncio.run(make_brick(import_threshold=3).upsert(contacts))
    assert route.call_count == 1
    assert [r.pseudonym for r in results] == [c.pseudonym for c in contacts]
    assert all(r.error is None and not r.created for r in results)
    body = sent_json(route)
    assert body["listIds"] == [3]
    assert body["updateExistingContacts"] is True and body["emptyContactsAttributes"] is False
    assert body["jsonBody"][0] == {
        "email": "user0@example.org",
        "attributes": {"EXT_ID": contacts[0].pseudonym, "FIRSTNAME": "Ada", "LASTNAME": "Lovelace"},
    }


def test_import_is_split_by_batch_size() -> None:
    brick = make_brick(import_threshold=1)
    contacts = many(brick.batch_size + 1)
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        route = mock.post("/contacts/import").respond(202, json={"processId": 1})
        results = asyncio.run(brick.upsert(contacts))
    assert route.call_count == 2
    assert len(sent_json(route, 0)["jsonBody"]) == brick.batch_size
    assert len(sent_json(route, 1)["jsonBody"]) == 1
    assert len(results) == len(contacts)


def test_without_lists_a_large_batch_cannot_import_so_goes_per_contact() -> None:
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        single = mock.post("/contacts").respond(204)
        asyncio.run(make_brick(import_threshold=1, list_ids=[]).upsert(many(3)))
    assert single.call_count == 3


def test_import_failure_raises_without_personal_data() -> None:
    answer = {"code": "invalid_parameter", "message": "user2@example.org: Ada is invalid"}
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        mock.post("/contacts/import").respond(400, json=answer)
        with pytest.raises(PayloadRejected) as caught:
            asyncio.run(make_brick(import_threshold=1).upsert(many(3)))
    assert "user2@example.org" not in caught.value.message and "Ada" not in caught.value.message


def test_list_add_splits_into_chunks_of_150_and_reports_refusals() -> None:
    pseudonyms = [f"ps_listmember{i:010d}xx" for i in range(2 * LIST_ADD_LIMIT + 1)]

    def answer(request: httpx.Request) -> httpx.Response:
        ext_ids = json.loads(request.content)["extIds"]
        return httpx.Response(
            201, json={"contacts": {"success": ext_ids[1:], "failure": ext_ids[:1]}}
        )

    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        route = mock.post("/contacts/lists/17/contacts/add").mock(side_effect=answer)
        refused = asyncio.run(make_brick().add_to_list(17, pseudonyms + pseudonyms[:5]))
    sizes = [len(sent_json(route, i)["extIds"]) for i in range(route.call_count)]
    assert sizes == [150, 150, 1]
    sent = [p for i in range(route.call_count) for p in sent_json(route, i)["extIds"]]
    assert sent == pseudonyms
    assert refused == [pseudonyms[0], pseudonyms[150], pseudonyms[300]]


def test_list_add_of_nothing_calls_nothing_and_bad_list_is_refused() -> None:
    with respx.mock(base_url=BASE, assert_all_mocked=True):
        assert asyncio.run(make_brick().add_to_list(17, [])) == []
        with pytest.raises(PayloadRejected):
            asyncio.run(make_brick().add_to_list(0, [PSEUDONYM]))


def test_erase_deletes_by_ext_id() -> None:
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        route = mock.delete(f"/contacts/{PSEUDONYM}").respond(204)
        asyncio.run(make_brick().erase(PSEUDONYM))
    assert route.calls[0].request.url.params["identifierType"] == "ext_id"


def test_erase_of_an_unknown_contact_is_done() -> None:
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        mock.delete(f"/contacts/{PSEUDONYM}").respond(
            404, json={"code": "document_not_found", "message": "Contact does not exist"}
        )
        asyncio.run(make_brick().erase(PSEUDONYM))


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(429, headers={"x-sib-ratelimit-reset": "5"}), RateLimited),
        (httpx.Response(500), Retryable),
        (httpx.Response(401), AuthFailed),
        (httpx.Response(405, json={"code": "method_not_allowed", "message": "no"}), Exception),
    ],
)
def test_erase_failures_raise(response: httpx.Response, error: type) -> None:
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        mock.delete(f"/contacts/{PSEUDONYM}").mock(return_value=response)
        with pytest.raises(error):
            asyncio.run(make_brick().erase(PSEUDONYM))


def test_erase_transport_failure_is_retryable() -> None:
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        mock.delete(f"/contacts/{PSEUDONYM}").mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(Retryable):
            asyncio.run(make_brick().erase(PSEUDONYM))


def test_erase_escapes_the_identifier() -> None:
    odd = "ps_with/slash_and?query0"
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        route = mock.delete(
            url__regex=r".*/v3/contacts/ps_with%2Fslash_and%3Fquery0\?identifierType=ext_id$"
        ).respond(204)
        asyncio.run(make_brick().erase(odd))
    assert route.called


def test_list_add_requests_match_brevo_extids_schema() -> None:
    """Each chunk is valid under the spec's ``addContactToListByExtIDs`` (1 to 150 items)."""
    import jsonschema
    import yaml

    from hub.testing.vendor_specs import vendor_specs_dir

    spec = yaml.safe_load((vendor_specs_dir() / "brevo_v3.yml").read_text(encoding="utf-8"))
    schema = spec["components"]["schemas"]["addContactToListByExtIDs"]
    assert schema["properties"]["extIds"]["maxItems"] == LIST_ADD_LIMIT
    pseudonyms = [f"ps_listmember{i:010d}xx" for i in range(LIST_ADD_LIMIT + 1)]
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        route = mock.post("/contacts/lists/17/contacts/add").respond(201, json={"contacts": {}})
        asyncio.run(make_brick().add_to_list(17, pseudonyms))
    for index in range(route.call_count):
        jsonschema.validate(sent_json(route, index), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"extIds": pseudonyms}, schema)
