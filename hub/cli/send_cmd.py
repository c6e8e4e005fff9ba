"""``hub send``: one message to one customer, through every rule the core applies.

Marketing ops use it to test a template or send a one-off; scripts use its exit code: 0 sent
(or already sent under the same ``--idempotency-key``), 3 refused by policy (consent, pressure,
or an earlier attempt in doubt), 4 failed at the vendor after the core's retries (the message is
dead-lettered with the reason, never lost).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from contracts import Channel, MessageKind
from hub.cli.output import EXIT_OK, EXIT_REFUSED, EXIT_VENDOR, emit_json, fail, stdout
from hub.contacts.lookup import CustomerNotFound, find_customer
from hub.pressure.policy import UnknownScenario
from hub.sending import NoBrickForChannel, SendOutcome, send_message
from hub.storage.db import session_scope

__all__ = ["parse_variables", "send"]

_EXIT = {"sent": EXIT_OK, "deferred": EXIT_REFUSED, "refused": EXIT_REFUSED}
_EXIT |= {"in_doubt": EXIT_REFUSED, "failed": EXIT_VENDOR}


def parse_variables(pairs: list[str]) -> dict[str, str]:
    """``--var name=value`` pairs; values stay text (a zip code ``01234`` is not a number)."""
    variables: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            fail(f"--var: {pair!r} must look like name=value")
        if not name.replace("_", "").replace("-", "").isalnum():
            fail(f"--var: {name!r} may hold only letters, digits, '_' and '-'")
        if name in variables:
            fail(f"--var: {name!r} is given twice")
        variables[name] = value
    return variables


def _choice(enum: type[Channel] | type[MessageKind], option: str, value: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        fail(f"{option}: {value!r} is not one of {', '.join(e.value for e in enum)}")


def send(
    ctx: typer.Context,
    customer: Annotated[str, typer.Option("--customer", help="Hub customer id.")],
    channel: Annotated[str, typer.Option("--channel", help="email, sms or push.")],
    scenario: Annotated[str, typer.Option("--scenario", help="A scenario declared in config.")],
    template: Annotated[str, typer.Option("--template", help="The brick's template name.")],
    var: Annotated[
        list[str] | None,
        typer.Option("--var", help="Template variable name=value (repeatable)."),
    ] = None,
    brick: Annotated[
        str | None, typer.Option("--brick", help="Default: the first enabled brick that fits.")
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="Default: the scenario's kind.")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key",
            help="Repeat a send safely: the same key is never delivered twice.",
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> int:
    """Send one message: consent, pressure, minimised view, brick call with retries."""
    chosen_channel = _choice(Channel, "--channel", channel)
    chosen_kind = _choice(MessageKind, "--kind", kind) if kind else None
    if idempotency_key is not None and not 8 <= len(idempotency_key) <= 128:
        fail("--idempotency-key: must be 8 to 128 characters")
    variables = parse_variables(var or [])
    runtime = ctx.obj.runtime()
    if brick is not None and brick not in runtime.bricks:
        fail(f"--brick: no brick named {brick!r} (installed: {', '.join(runtime.bricks)})")
    with session_scope(runtime.ready_engine()) as session:
        try:
            find_customer(session, runtime.identity, customer_id=customer)
        except CustomerNotFound:
            fail(f"--customer: no customer with id {customer!r}")
    try:
        outcome = asyncio.run(
            send_message(
                runtime,
                customer_id=customer,
                channel=chosen_channel,
                scenario=scenario,
                template=template,
                kind=chosen_kind,
                variables=dict(variables),
                brick=brick,
                idempotency_key=idempotency_key,
            )
        )
    except UnknownScenario as exc:
        fail(f"--scenario: {exc}")
    except NoBrickForChannel as exc:
        fail(f"--brick: {exc}")
    finally:
        asyncio.run(runtime.aclose())
    _print(outcome, json_output)
    return _EXIT[outcome.status]


def _as_dict(outcome: SendOutcome) -> dict[str, Any]:
    decision = outcome.decision
    result = outcome.result
    error = result.error if result else None
    return {
        "status": outcome.status,
        "duplicate": outcome.duplicate,
        "brick": outcome.brick,
        "request_id": outcome.request_id,
        "vendor_message_id": result.vendor_message_id if result else None,
        "decision": decision.outcome.value,
        "rule": decision.rule,
        "reason": decision.reason,
        "until": decision.until.isoformat() if decision.until else None,
        "error": error.model_dump() if error else None,
        "dead_letter_id": outcome.dead_letter_id,
    }


def _print(outcome: SendOutcome, json_output: bool) -> None:
    data = _as_dict(outcome)
    if json_output:
        emit_json(data)
        return
    line = f"{outcome.status} via {outcome.brick}"
    if outcome.status == "sent":
        again = " (already sent under this key: not sent again)" if outcome.duplicate else ""
        line += f": vendor message {data['vendor_message_id'] or '-'}{again}"
    elif outcome.status == "failed":
        error = data["error"] or {}
        line += f": {error.get('code')}: {error.get('message')}"
        line += f" (dead letter #{outcome.dead_letter_id})"
    else:
        reason = data["reason"] or ""
        rule = data["rule"]
        named = rule and not reason.startswith(rule)
        line += f": [{rule}] {reason}" if named else f": {reason}"
        if data["until"]:
            line += f" (may go from {data['until']})"
    stdout.print(line, markup=False)
