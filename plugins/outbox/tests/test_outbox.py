"""Behaviour of the outbox brick: file format, idempotency (threads and processes), errors."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from contracts import (
    BrickContext,
    Channel,
    ContactView,
    MessageKind,
    PayloadRejected,
    Retryable,
    SendRequest,
    SendStatus,
)
from plugins.outbox import OutboxBrick, hub_register_bricks

PSEUDONYM = "p" * 20


def make_request(
    key: str,
    *,
    channel: Channel = Channel.EMAIL,
    email: str | None = "ada@example.com",
    phone: str | None = None,
) -> SendRequest:
    return SendRequest(
        request_id=f"request-{key}",
        idempotency_key=f"idemkey-{key}",
        channel=channel,
        kind=MessageKind.MARKETING,
        scenario="welcome",
        template="welcome-v1",
        variables={"coupon": "HELLO10", "n": 3},
        recipient=ContactView(pseudonym=PSEUDONYM, email=email, phone=phone),
        created_at=datetime.now(UTC),
    )


def make_brick(data_dir: Path, **settings: object) -> OutboxBrick:
    return OutboxBrick(
        OutboxBrick.Settings(**settings), BrickContext(name="outbox", data_dir=data_dir)
    )


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_registers_itself() -> None:
    registered: list[type] = []
    hub_register_bricks(registered.append)
    assert registered == [OutboxBrick]
    assert OutboxBrick.describe()["channels"] == ["email", "push", "sms"]


def test_one_line_per_message_with_exactly_the_view_fields(tmp_path: Path) -> None:
    brick = make_brick(tmp_path)
    first = asyncio.run(brick.send(make_request("a")))
    second = asyncio.run(brick.send(make_request("b", channel=Channel.SMS, phone="+33600000000")))

    lines = read_lines(tmp_path / "outbox.jsonl")
    assert len(lines) == 2
    assert first.status is SendStatus.ACCEPTED
    assert first.vendor_message_id == lines[0]["message_id"]
    assert first.vendor_message_id.startswith("outbox-")
    assert len(first.vendor_message_id) == 31
    assert second.vendor_message_id == lines[1]["message_id"]
    assert set(lines[0]) == {
        "message_id",
        "request_id",
        "idempotency_key",
        "channel",
        "kind",
        "scenario",
        "template",
        "variables",
        "recipient",
        "queued_at",
    }
    assert lines[0]["recipient"] == {"pseudonym": PSEUDONYM, "email": "ada@example.com"}
    assert lines[1]["recipient"] == {
        "pseudonym": PSEUDONYM,
        "email": "ada@example.com",
        "phone": "+33600000000",
    }
    assert lines[0]["variables"] == {"coupon": "HELLO10", "n": 3}
    assert lines[0]["channel"] == "email"
    assert lines[0]["kind"] == "marketing"
    assert datetime.fromisoformat(lines[0]["queued_at"]).tzinfo is not None


def test_relative_path_resolves_against_data_dir(tmp_path: Path) -> None:
    brick = make_brick(tmp_path, path="sub/dir/out.jsonl")
    asyncio.run(brick.send(make_request("a")))
    assert len(read_lines(tmp_path / "sub" / "dir" / "out.jsonl")) == 1


def test_absolute_path_is_used_as_is(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "abs.jsonl"
    brick = make_brick(tmp_path / "data", path=str(target), fsync=True)
    asyncio.run(brick.send(make_request("a")))
    assert len(read_lines(target)) == 1
    assert not (tmp_path / "data").exists()


def test_idempotent_resend_writes_one_line_and_same_id(tmp_path: Path) -> None:
    brick = make_brick(tmp_path)
    first = asyncio.run(brick.send(make_request("a")))
    again = asyncio.run(brick.send(make_request("a")))
    assert first.vendor_message_id == again.vendor_message_id
    assert len(read_lines(tmp_path / "outbox.jsonl")) == 1


def test_idempotency_across_two_instances_on_one_file(tmp_path: Path) -> None:
    one, two = make_brick(tmp_path), make_brick(tmp_path)
    a1 = asyncio.run(one.send(make_request("a")))
    asyncio.run(two.send(make_request("b")))
    a2 = asyncio.run(two.send(make_request("a")))
    asyncio.run(one.send(make_request("b")))
    assert a1.vendor_message_id == a2.vendor_message_id
    keys = [line["idempotency_key"] for line in read_lines(tmp_path / "outbox.jsonl")]
    assert keys == ["idemkey-a", "idemkey-b"]


def test_concurrent_sends_in_one_process(tmp_path: Path) -> None:
    brick = make_brick(tmp_path)

    async def burst() -> None:
        await asyncio.gather(*(brick.send(make_request(str(i % 10))) for i in range(60)))

    asyncio.run(burst())
    keys = [line["idempotency_key"] for line in read_lines(tmp_path / "outbox.jsonl")]
    assert sorted(keys) == sorted(f"idemkey-{i}" for i in range(10))


def test_torn_line_from_a_crashed_writer_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "outbox.jsonl").write_bytes(b'{"idempotency_key": "idemkey-a", "trunc')
    brick = make_brick(tmp_path)
    asyncio.run(brick.send(make_request("a")))
    raw = (tmp_path / "outbox.jsonl").read_text().splitlines()
    assert len(raw) == 2
    assert json.loads(raw[1])["idempotency_key"] == "idemkey-a"


def _process_worker(path: str, worker: int) -> None:
    brick = make_brick(Path(path))

    async def run() -> None:
        for i in range(50):
            await brick.send(make_request(f"shared-{i}"))
            await brick.send(make_request(f"own-{worker}-{i}"))

    asyncio.run(run())


def test_idempotency_across_processes(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    processes = [ctx.Process(target=_process_worker, args=(str(tmp_path), w)) for w in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0, 0, 0, 0]

    keys = [line["idempotency_key"] for line in read_lines(tmp_path / "outbox.jsonl")]
    expected = {f"idemkey-shared-{i}" for i in range(50)}
    expected |= {f"idemkey-own-{w}-{i}" for w in range(4) for i in range(50)}
    assert len(keys) == len(expected) == 250
    assert set(keys) == expected


def test_missing_email_is_rejected_naming_the_field(tmp_path: Path) -> None:
    brick = make_brick(tmp_path)
    with pytest.raises(PayloadRejected) as caught:
        asyncio.run(brick.send(make_request("a", email=None)))
    assert caught.value.field == "email"
    assert "'email'" in caught.value.message
    assert not (tmp_path / "outbox.jsonl").exists()


def test_missing_phone_is_rejected_for_sms(tmp_path: Path) -> None:
    brick = make_brick(tmp_path)
    with pytest.raises(PayloadRejected) as caught:
        asyncio.run(brick.send(make_request("a", channel=Channel.SMS)))
    assert caught.value.field == "phone"
    assert "ada@example.com" not in caught.value.message


def test_push_needs_only_the_pseudonym(tmp_path: Path) -> None:
    brick = make_brick(tmp_path)
    result = asyncio.run(brick.send(make_request("a", channel=Channel.PUSH, email=None)))
    assert result.status is SendStatus.ACCEPTED
    assert read_lines(tmp_path / "outbox.jsonl")[0]["recipient"] == {"pseudonym": PSEUDONYM}


def test_send_batch_mixes_good_and_bad_in_order(tmp_path: Path) -> None:
    brick = make_brick(tmp_path)
    requests = [
        make_request("a"),
        make_request("b", email=None),
        make_request("c", channel=Channel.PUSH, email=None),
        make_request("a"),
    ]
    results = asyncio.run(brick.send_batch(requests))
    assert [r.request_id for r in results] == [r.request_id for r in requests]
    assert [r.status for r in results] == [
        SendStatus.ACCEPTED,
        SendStatus.REJECTED,
        SendStatus.ACCEPTED,
        SendStatus.ACCEPTED,
    ]
    assert results[1].error is not None
    assert results[1].error.code == "PayloadRejected"
    assert not results[1].error.retryable
    assert results[0].vendor_message_id == results[3].vendor_message_id
    assert len(read_lines(tmp_path / "outbox.jsonl")) == 2
    assert asyncio.run(brick.send_batch([])) == []


def test_unwritable_directory_is_retryable_and_unhealthy(tmp_path: Path) -> None:
    # A regular file where the directory should be: unwritable even for root.
    (tmp_path / "blocker").write_text("")
    brick = make_brick(tmp_path, path="blocker/outbox.jsonl")
    with pytest.raises(Retryable) as caught:
        asyncio.run(brick.send(make_request("a")))
    assert "blocker" not in caught.value.message
    assert caught.value.message.startswith("outbox file not writable: E")

    health = asyncio.run(brick.check())
    assert not health.ok
    assert "not writable" in health.detail

    results = asyncio.run(brick.send_batch([make_request("a"), make_request("b", email=None)]))
    assert [r.status for r in results] == [SendStatus.FAILED, SendStatus.REJECTED]
    assert results[0].error is not None
    assert results[0].error.retryable


def test_check_is_ok_for_a_writable_directory(tmp_path: Path) -> None:
    health = asyncio.run(make_brick(tmp_path, path="new/outbox.jsonl").check())
    assert health.ok, health.detail


def test_settings_reject_unknown_keys_and_empty_path() -> None:
    with pytest.raises(ValidationError):
        OutboxBrick.Settings(path="x.jsonl", colour="blue")
    with pytest.raises(ValidationError):
        OutboxBrick.Settings(path="")
    assert OutboxBrick.Settings().path == Path("outbox.jsonl")
