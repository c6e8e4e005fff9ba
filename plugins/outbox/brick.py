"""``OutboxBrick``: appends every message as one JSON line to a local file.

The file is the brick's only state, so idempotency must hold across processes (several workers
may share one outbox): every append happens under an exclusive ``flock`` on the file, after the
lines other processes appended since our last look have been read and their keys remembered.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import field_validator

from contracts import (
    Brick,
    BrickContext,
    BrickSettings,
    Capability,
    Channel,
    CustomerField,
    HealthStatus,
    PayloadRejected,
    Permanent,
    Purpose,
    Retryable,
    SendError,
    SendRequest,
    SendResult,
    SendStatus,
)

__all__ = ["OutboxBrick"]

#: The view attribute each channel needs; push targets the pseudonym, so it needs none.
_CONTACT_POINT: dict[Channel, str] = {Channel.EMAIL: "email", Channel.SMS: "phone"}
_READ_CHUNK = 1 << 20


def message_id_for(idempotency_key: str) -> str:
    """Derive the id from the key so a resend (from any process) reports the same id."""
    return "outbox-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


class OutboxBrick(Brick):
    """A Sender for every channel that records messages instead of delivering them."""

    name: ClassVar[str] = "outbox"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "Writes each message as a JSON line to a local file (dry runs)"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.SENDER})
    channels: ClassVar[frozenset[Channel]] = frozenset(Channel)
    fields: ClassVar[frozenset[CustomerField]] = frozenset(CustomerField)
    purposes: ClassVar[frozenset[Purpose]] = frozenset({Purpose.MARKETING, Purpose.TRANSACTIONAL})
    supports_idempotency: ClassVar[bool] = True
    batch_size: ClassVar[int] = 500

    class Settings(BrickSettings):
        """Where the outbox lives and how hard to insist on durability."""

        path: Path = Path("outbox.jsonl")
        """A relative path is resolved against the installation's ``data_dir``."""
        fsync: bool = False
        """fsync after each append: survives power loss, at the cost of throughput."""

        @field_validator("path")
        @classmethod
        def _names_a_file(cls, value: Path) -> Path:
            # Path("") silently becomes Path("."), which names no file: refuse it early.
            if not value.name or value.name in {".", ".."}:
                raise ValueError("path must name a file, e.g. 'outbox.jsonl'")
            return value

    settings: Settings

    def __init__(self, settings: BrickSettings, context: BrickContext) -> None:
        super().__init__(settings, context)
        path = self.settings.path
        self.path: Path = path if path.is_absolute() else context.data_dir / path
        # Keys already in the file up to byte ``_scanned`` of the file identified by ``_file_id``.
        self._seen: set[str] = set()
        self._scanned = 0
        self._file_id: tuple[int, int] | None = None
        # flock serialises processes; this serialises our own worker threads and guards _seen.
        self._thread_lock = threading.Lock()

    async def send(self, request: SendRequest) -> SendResult:
        """Record one message; a key already in the outbox is acknowledged, not written again."""
        line = self._render(request)
        await asyncio.to_thread(self._append, [(request.idempotency_key, line)])
        return self._accepted(request)

    async def send_batch(self, requests: Sequence[SendRequest]) -> list[SendResult]:
        """Record several under one lock; a bad item yields its own result, never an exception."""
        results: list[SendResult | None] = [None] * len(requests)
        pending: list[tuple[int, str, bytes]] = []
        for index, request in enumerate(requests):
            try:
                pending.append((index, request.idempotency_key, self._render(request)))
            except Permanent as exc:
                results[index] = _failure(request, exc, SendStatus.REJECTED)
        if pending:
            try:
                await asyncio.to_thread(self._append, [(key, line) for _, key, line in pending])
            except Retryable as exc:
                for index, _, _ in pending:
                    results[index] = _failure(requests[index], exc, SendStatus.FAILED)
            else:
                for index, _, _ in pending:
                    results[index] = self._accepted(requests[index])
        return [result for result in results if result is not None]

    async def check(self) -> HealthStatus:
        """Prove the target directory is writable by creating a scratch file in it."""
        return await asyncio.to_thread(self._check_sync)

    def _check_sync(self) -> HealthStatus:
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=directory):
                pass
        except OSError as exc:
            return HealthStatus(ok=False, detail=f"outbox directory not writable: {_errno(exc)}")
        if self.path.exists() and not self.path.is_file():
            return HealthStatus(ok=False, detail="outbox path exists but is not a regular file")
        return HealthStatus(ok=True, detail="outbox directory is writable")

    def _render(self, request: SendRequest) -> bytes:
        """Build the JSON line, refusing a view that lacks the channel's contact point."""
        attribute = _CONTACT_POINT.get(request.channel)
        if attribute is not None and getattr(request.recipient, attribute) is None:
            raise PayloadRejected(
                f"recipient view has no {attribute}: allow the '{attribute}' field for this brick",
                field=attribute,
            )
        record: dict[str, Any] = {
            "message_id": message_id_for(request.idempotency_key),
            "request_id": request.request_id,
            "idempotency_key": request.idempotency_key,
            "channel": request.channel.value,
            "kind": request.kind.value,
            "scenario": request.scenario,
            "template": request.template,
            "variables": request.variables,
            "recipient": request.recipient.model_dump(mode="json", exclude_none=True),
            "queued_at": datetime.now(UTC).isoformat(),
        }
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"

    def _accepted(self, request: SendRequest) -> SendResult:
        return SendResult(
            request_id=request.request_id,
            status=SendStatus.ACCEPTED,
            vendor_message_id=message_id_for(request.idempotency_key),
        )

    def _append(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Append the lines whose keys are new, holding the file lock (runs in a worker thread)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._thread_lock:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    self._catch_up(fd)
                    fresh: dict[str, bytes] = {}
                    for key, line in items:
                        if key not in self._seen:
                            fresh.setdefault(key, line)
                    if fresh:
                        self._write(fd, b"".join(fresh.values()))
                        self._seen.update(fresh)  # only once written: a failed write may retry
                finally:
                    os.close(fd)  # closing releases the flock
        except OSError as exc:
            raise Retryable(f"outbox file not writable: {_errno(exc)}") from None

    def _catch_up(self, fd: int) -> None:
        """Remember the keys of lines appended since our last scan (by us or other processes)."""
        stat = os.fstat(fd)
        file_id = (stat.st_dev, stat.st_ino)
        if file_id != self._file_id or stat.st_size < self._scanned:
            # Rotated, replaced or truncated: the file on disk is the truth, rescan it all.
            self._seen.clear()
            self._scanned = 0
            self._file_id = file_id
        offset, rest = self._scanned, b""
        while offset < stat.st_size:
            chunk = os.pread(fd, min(_READ_CHUNK, stat.st_size - offset), offset)
            if not chunk:
                break
            offset += len(chunk)
            *lines, rest = (rest + chunk).split(b"\n")
            self._remember(lines)
        self._remember([rest])  # under the lock a line without "\n" is a crashed writer's stub
        self._scanned = offset

    def _remember(self, lines: Sequence[bytes]) -> None:
        for raw in lines:
            try:
                key = json.loads(raw)["idempotency_key"]
            except (ValueError, KeyError, TypeError):
                continue  # blank or torn line: it holds no key we can honour
            if isinstance(key, str):
                self._seen.add(key)

    def _write(self, fd: int, data: bytes) -> None:
        """Write all of ``data`` at the end, starting on a fresh line after a torn one."""
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if self.settings.fsync:
            os.fsync(fd)
        self._scanned = os.fstat(fd).st_size


def _errno(exc: OSError) -> str:
    """Name the error (``EACCES``) without echoing the path, which may be an operator's secret."""
    return errno.errorcode.get(exc.errno or 0, type(exc).__name__)


def _failure(request: SendRequest, exc: Permanent | Retryable, status: SendStatus) -> SendResult:
    return SendResult(
        request_id=request.request_id,
        status=status,
        error=SendError(
            code=type(exc).__name__,
            message=exc.message[:1000],
            retryable=isinstance(exc, Retryable),
        ),
    )
