"""``hub contacts forget`` (art. 17 erasure, art. 21 objection) and ``hub contacts export``
(art. 15/20). What each does, and what stays and why: docs/privacy-rights.md.

Exit codes: 0 done (every brick confirmed or could not be asked); 2 unknown person or bad
option; 4 some brick's erase call failed after the core's retries (the local erasure is done
and committed; retry the calls with ``hub contacts forget --resume``).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from hub.cli.output import EXIT_VENDOR, emit_json, fail, stderr, stdout
from hub.contacts.lookup import CustomerNotFound, find_customer
from hub.erasure.export import export_person
from hub.erasure.forget import ForgetReport, forget, resume
from hub.erasure.local import NOT_APPLICABLE
from hub.erasure.objection import ObjectionRefused, object_to
from hub.erasure.remote import DONE, FAILED, StepResult
from hub.runtime import Runtime
from hub.storage.db import session_scope
from hub.storage.types import utcnow

__all__ = ["export", "forget_cmd"]

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
IdArgument = Annotated[str | None, typer.Argument(help="Hub customer id.")]
EmailOption = Annotated[str | None, typer.Option("--email", help="Find by email.")]
PhoneOption = Annotated[str | None, typer.Option("--phone", help="Find by phone.")]


def _person(runtime: Runtime, customer_id: str | None, email: str | None,
            phone: str | None) -> str:
    with session_scope(runtime.ready_engine()) as session:
        try:
            return find_customer(
                session, runtime.identity, customer_id=customer_id, email=email, phone=phone
            )
        except (CustomerNotFound, ValueError) as exc:
            fail(str(exc))


def _step_line(step: StepResult) -> str:
    if step.status == DONE:
        return f"  {step.brick}: erased ({step.pseudonym})"
    if step.status == NOT_APPLICABLE:
        return f"  {step.brick}: not applicable: {step.error}"
    return (
        f"  {step.brick}: {step.status}: {step.error or 'not tried yet'} "
        "(retry with `hub contacts forget --resume`)"
    )


def _print_forget(report: ForgetReport) -> None:
    requests = ", ".join(f"#{i}" for i in report.requests.values())
    if report.already_erased:
        stdout.print(f"customer {report.customer_id} was already erased ({requests})",
                     markup=False)
    else:
        removed = ", ".join(f"{n} {t}" for t, n in sorted(report.removed.items()) if n)
        merged = len(report.customers) - 1
        stdout.print(
            f"customer {report.customers[0]} erased ({requests})"
            + (f" with {merged} customer(s) merged into it" if merged else "")
            + f": removed {removed or 'nothing'}; {report.suppressions} contact point(s) "
            f"suppressed; {report.dead_letters} dead letter(s) dropped",
            markup=False,
        )
    if not report.steps:
        stdout.print("  no brick received data about this person", markup=False)
    for step in report.steps:
        stdout.print(_step_line(step), markup=False)


def _resume(runtime: Runtime, json_output: bool) -> int:
    steps = asyncio.run(resume(runtime))
    failed = [s for s in steps if s.status == FAILED]
    if json_output:
        emit_json({"steps": [s.as_dict() for s in steps], "complete": not failed})
    else:
        done = sum(1 for s in steps if s.status == DONE)
        stdout.print(
            f"{len(steps)} erase step(s) retried: {done} done, {len(failed)} failed",
            markup=False,
        )
        for step in steps:
            if step.status != DONE:
                stdout.print(f"request #{step.request_id} ({step.customer_id})"
                             + _step_line(step), markup=False)
    return EXIT_VENDOR if failed else 0


def forget_cmd(
    ctx: typer.Context,
    customer_id: IdArgument = None,
    email: EmailOption = None,
    phone: PhoneOption = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (kept with the request).")
    ] = None,
    resume_steps: Annotated[
        bool, typer.Option("--resume", help="Retry every failed or pending erase call.")
    ] = False,
    objection: Annotated[
        bool,
        typer.Option("--object", help="Art. 21: block marketing and profiling, delete nothing."),
    ] = False,
    withdraw: Annotated[
        bool, typer.Option("--withdraw", help="With --object: lift the objection.")
    ] = False,
    json_output: JsonOption = False,
) -> int:
    """Erase a person (GDPR art. 17): vault key, identifiers, history; tombstone, suppression
    of their contact points, and an erase call to every brick holding them.

    Exit 0 done, 2 unknown person or bad option, 4 some erase call failed (retry with
    --resume).
    """
    if withdraw and not objection:
        fail("--withdraw: only with --object")
    runtime = ctx.obj.runtime()
    try:
        if resume_steps:
            if customer_id or email or phone or objection:
                fail("--resume: takes no person and no --object (it retries every request)")
            return _resume(runtime, json_output)
        found = _person(runtime, customer_id, email, phone)
        if objection:
            return _object(runtime, found, withdraw, reason, json_output)
        report = asyncio.run(forget(runtime, found, reason=reason))
    finally:
        asyncio.run(runtime.aclose())
    if json_output:
        emit_json(report.as_dict())
    else:
        _print_forget(report)
    return 0 if report.complete else EXIT_VENDOR


def _object(runtime: Runtime, customer_id: str, withdraw: bool, reason: str | None,
            json_output: bool) -> int:
    with session_scope(runtime.ready_engine()) as session:
        try:
            result = object_to(session, customer_id, withdraw=withdraw, reason=reason,
                               now=utcnow())
        except (ObjectionRefused, LookupError) as exc:
            fail(str(exc))
    if json_output:
        emit_json(result.as_dict())
    elif withdraw:
        stdout.print(f"customer {result.customer_id}: objection withdrawn (request "
                     f"#{result.request_id}); marketing follows their consents again",
                     markup=False)
    else:
        stdout.print(f"customer {result.customer_id} objected (request #{result.request_id}): "
                     "marketing and profiling refused, transactional messages still go",
                     markup=False)
    return 0


def _write_private(path: Path, text: str) -> None:
    """Only the owner may read it: created 0600, and made 0600 if it existed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            fd = -1
            handle.write(text)
    finally:
        if fd != -1:
            os.close(fd)


def export(
    ctx: typer.Context,
    customer_id: IdArgument = None,
    email: EmailOption = None,
    phone: PhoneOption = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to FILE (mode 0600) instead of stdout.",
                     dir_okay=False),
    ] = None,
) -> None:
    """Everything the hub holds on a person, as JSON (GDPR art. 15/20). Audited.

    Exit 0 done, 2 unknown person.
    """
    runtime = ctx.obj.runtime()
    found = _person(runtime, customer_id, email, phone)
    with session_scope(runtime.ready_engine()) as session:
        document: dict[str, Any] = export_person(session, runtime.identity, found, now=utcnow())
    if output is None:
        emit_json(document)
        return
    try:
        _write_private(output, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        fail(f"--output: cannot write {output}: {exc.strerror}")
    stderr.print(
        f"exported customer {document['customer_id']} to {output} (mode 0600): "
        f"{len(document['events'])} event(s), {len(document['consents'])} consent statement(s), "
        f"{len(document['sends'])} send(s)",
        markup=False,
    )
