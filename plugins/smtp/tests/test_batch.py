"""Batches share one SMTP session; check() walks the session without sending anything."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from contracts import RateLimited, Retryable, SendStatus
from plugins.smtp.tests.server import PASSWORD, Certificate, Recorder, free_port, smtp_server
from plugins.smtp.tests.support import (
    EMAIL,
    base_settings,
    make_brick,
    request,
    settings_for,
    view,
)

BUSY = "busy.smtp@example.org"
GONE = "gone.smtp@example.org"
LATER = "later.smtp@example.org"
OTHER = "other.smtp@example.org"


def _req(email: str, n: int, **kwargs: object):
    return request(view(email=email), request_id=f"req-batch-{n:04d}", **kwargs)


def test_one_session_one_result_per_request_in_order(
    certificate: Certificate, templates: Path, tmp_path: Path
) -> None:
    handler = Recorder(
        rcpt_replies={"gone.": "550 5.1.1 <gone.smtp@example.org> unknown", "later.": "451 4.3.0"}
    )
    requests = [
        _req(EMAIL, 1),
        _req(GONE, 2),
        _req(OTHER, 3, template="missing"),
        _req(LATER, 4),
        _req(OTHER, 5),
    ]
    with smtp_server(handler, certificate=certificate, auth=True) as server:
        brick = make_brick(settings_for(server, templates, certificate, auth=True), tmp_path)
        results = asyncio.run(brick.send_batch(requests))
    assert [r.request_id for r in results] == [r.request_id for r in requests]
    assert [r.status for r in results] == [
        SendStatus.ACCEPTED,
        SendStatus.REJECTED,
        SendStatus.REJECTED,
        SendStatus.FAILED,
        SendStatus.ACCEPTED,
    ]
    assert results[1].error.code == "PayloadRejected" and not results[1].error.retryable
    assert results[2].error.code == "PayloadRejected" and "template" in results[2].error.message
    assert results[3].error.code == "Retryable" and results[3].error.retryable
    assert all(GONE not in (r.error.message if r.error else "") for r in results)
    assert handler.sessions == 1 and handler.logins == ["hub-sender"]
    assert [e.rcpt_tos for e in handler.envelopes] == [[EMAIL], [OTHER]]
    ids = [m["Message-ID"] for m in handler.messages()]
    assert ids == [results[0].vendor_message_id, results[4].vendor_message_id]
    assert len(set(ids)) == 2


def test_a_session_broken_after_deliveries_fails_the_rest_without_raising(
    certificate: Certificate, templates: Path, tmp_path: Path
) -> None:
    handler = Recorder(rcpt_replies={"busy.": "421 4.7.0 too many messages, closing"})
    requests = [_req(EMAIL, 1), _req(BUSY, 2), _req(OTHER, 3)]
    with smtp_server(handler, certificate=certificate) as server:
        brick = make_brick(settings_for(server, templates, certificate), tmp_path)
        results = asyncio.run(brick.send_batch(requests))
    statuses = [r.status for r in results]
    assert statuses == [SendStatus.ACCEPTED, SendStatus.FAILED, SendStatus.FAILED]
    assert results[1].error.code == "RateLimited" and results[1].error.retryable
    assert results[2].error == results[1].error  # never attempted: the session was gone
    assert [e.rcpt_tos for e in handler.envelopes] == [[EMAIL]]


def test_a_session_broken_before_any_delivery_raises(
    certificate: Certificate, templates: Path, tmp_path: Path
) -> None:
    handler = Recorder(rcpt_replies={"busy.": "421 4.7.0 too many messages, closing"})
    with smtp_server(handler, certificate=certificate) as server:
        brick = make_brick(settings_for(server, templates, certificate), tmp_path)
        with pytest.raises(RateLimited):
            asyncio.run(brick.send_batch([_req(BUSY, 1), _req(OTHER, 2)]))
    assert handler.envelopes == []


def test_unreachable_server_fails_the_whole_batch(templates: Path, tmp_path: Path) -> None:
    brick = make_brick(base_settings(templates, port=free_port()), tmp_path)
    with pytest.raises(Retryable):
        asyncio.run(brick.send_batch([_req(EMAIL, 1), _req(OTHER, 2)]))


def test_locally_rejected_batch_never_connects(templates: Path, tmp_path: Path) -> None:
    brick = make_brick(base_settings(templates, port=free_port()), tmp_path)
    results = asyncio.run(brick.send_batch([_req(EMAIL, 1, template="missing")]))
    assert [r.status for r in results] == [SendStatus.REJECTED]
    assert asyncio.run(brick.send_batch([])) == []


def test_check_walks_the_whole_session(
    certificate: Certificate, templates: Path, tmp_path: Path
) -> None:
    handler = Recorder()
    with smtp_server(handler, certificate=certificate, auth=True) as server:
        settings = settings_for(server, templates, certificate, auth=True)
        health = asyncio.run(make_brick(settings, tmp_path).check())
        assert health.ok, health.detail
        assert "EHLO, STARTTLS, AUTH" in health.detail
        wrong = asyncio.run(make_brick({**settings, "password": "nope-nope"}, tmp_path).check())
    assert not wrong.ok and wrong.detail.startswith("AuthFailed: SMTP 535")
    assert handler.envelopes == [] and handler.logins == ["hub-sender"]
    assert PASSWORD not in health.detail and "nope-nope" not in wrong.detail


def test_check_reports_an_unreachable_server(templates: Path, tmp_path: Path) -> None:
    health = asyncio.run(make_brick(base_settings(templates, port=free_port()), tmp_path).check())
    assert not health.ok
    assert health.detail == "Retryable: connection to the SMTP server refused"


def test_check_reports_an_untrusted_certificate(
    certificate: Certificate, templates: Path, tmp_path: Path
) -> None:
    with smtp_server(Recorder(), certificate=certificate) as server:
        health = asyncio.run(make_brick(settings_for(server, templates), tmp_path).check())
    assert not health.ok and "certificate" in health.detail
