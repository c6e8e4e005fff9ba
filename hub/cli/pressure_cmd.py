"""``hub pressure``: ask the ledger, hold and release slots, and explain what it decided.

Every command goes through the same ``Ledger`` the send path uses, so what ``check`` says is
what a send would meet. Refusals are not errors: the decision is printed on stdout like an
allowance, and only the exit code (3) tells a script that it may not send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import Engine

from contracts import Channel, DecisionOutcome, MessageKind
from hub.cli.output import EXIT_REFUSED, emit_json, fail, parse_instant, stdout
from hub.cli.tables import table
from hub.pressure.engine import Decision
from hub.pressure.insight import CustomerZone, UnknownCustomer, customer_zone, explain, report
from hub.pressure.ledger import Ledger, LedgerError
from hub.pressure.policy import Policy, UnknownScenario

_E = TypeVar("_E", Channel, MessageKind)

app = typer.Typer(
    help="The commercial-pressure ledger: check, reserve, record, explain, report.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
CustomerOption = Annotated[str, typer.Option("--customer", help="Hub customer id.")]
ChannelOption = Annotated[str, typer.Option("--channel", help="email, sms or push.")]
ScenarioOption = Annotated[str, typer.Option("--scenario", help="A declared scenario.")]
KindOption = Annotated[str | None, typer.Option("--kind", help="Default: the scenario's kind.")]
AtOption = Annotated[str | None, typer.Option("--at", help="ISO 8601 with offset (default: now).")]
SentAtOption = Annotated[str, typer.Option("--at", help="When it was sent, ISO 8601 with offset.")]


# -- input --------------------------------------------------------------------------------------
def _choice(enum: type[_E], option: str, value: str) -> _E:
    """Parsed here rather than by Typer, so a bad value is exit 2 naming the option."""
    try:
        return enum(value)
    except ValueError:
        fail(f"{option}: {value!r} is not one of {', '.join(e.value for e in enum)}")


def _ledger(ctx: typer.Context) -> tuple[Engine, Ledger]:
    runtime = ctx.obj.runtime()
    policy = Policy(runtime.settings.pressure, runtime.settings.scenarios)
    engine = runtime.ready_engine()
    return engine, Ledger(engine, policy)


@dataclass(frozen=True)
class _Send:
    """A send named on the command line, every part checked before the ledger is asked."""

    ledger: Ledger
    customer: str
    channel: Channel
    scenario: str
    kind: MessageKind | None  # as given; None lets the ledger use the scenario's kind
    at: datetime
    zone: CustomerZone

    @property
    def effective_kind(self) -> MessageKind:
        return self.kind or self.ledger.policy.scenario(self.scenario).kind


def _send(
    ctx: typer.Context, customer: str, channel: str, scenario: str, kind: str | None, at: str | None
) -> _Send:
    """Input errors first (no database touched for a typo), then the scenario and customer."""
    when = parse_instant(at)
    parsed_channel = _choice(Channel, "--channel", channel)
    parsed_kind = _choice(MessageKind, "--kind", kind) if kind is not None else None
    engine, ledger = _ledger(ctx)
    try:
        ledger.policy.scenario(scenario)
    except UnknownScenario as exc:
        fail(f"--scenario: {exc}")
    with engine.connect() as connection:
        try:
            zone = customer_zone(connection, ledger.policy, customer)
        except UnknownCustomer:
            fail(f"--customer: unknown customer {customer!r}")
    return _Send(ledger, customer, parsed_channel, scenario, parsed_kind, when, zone)


def _checked(max_length: int, option: str, value: str | None) -> str | None:
    if value is not None and not 0 < len(value) <= max_length:
        fail(f"{option}: must be 1 to {max_length} characters")
    return value


# -- output -------------------------------------------------------------------------------------
def _when(value: datetime, zone: CustomerZone) -> str:
    utc, local = value.astimezone(UTC), value.astimezone(zone.zone)
    return f"{utc:%Y-%m-%d %H:%M:%S} UTC ({local:%Y-%m-%d %H:%M:%S %Z} {zone.zone.key})"


def _rules_table(consulted: list[dict[str, Any]], extra: tuple[str, ...] = ()) -> None:
    columns = ["rule", *extra, "used", "limit", "ok", "detail"]
    if consulted:
        table(columns, [[u[c] for c in columns] for u in consulted])
    else:
        stdout.print("  no rule applies to this send", markup=False)


def _decision_data(decision: Decision, send: _Send) -> dict[str, Any]:
    until = decision.until
    return {
        "decision": decision.outcome.value,
        "rule": decision.rule,
        "reason": decision.reason,
        "until": until.isoformat() if until else None,
        "until_local": until.astimezone(send.zone.zone).isoformat() if until else None,
        "consulted": [u.model_dump() for u in decision.consulted],
        "rule_set_version": decision.version,
        "customer_id": send.customer,
        "channel": send.channel.value,
        "scenario": send.scenario,
        "kind": send.effective_kind.value,
        "at": send.at.isoformat(),
        "time_zone": send.zone.zone.key,
    }


def _show_decision(decision: Decision, send: _Send) -> None:
    rule = f" (rule {decision.rule})" if decision.rule else ""
    lines = [
        f"decision   {decision.outcome.value}{rule}",
        f"reason     {decision.reason}",
        *([f"until      {_when(decision.until, send.zone)}"] if decision.until else []),
        f"send       {send.effective_kind.value} {send.scenario} by {send.channel.value} to "
        f"{send.customer} at {_when(send.at, send.zone)}",
        f"time zone  {send.zone.zone.key} ({send.zone.source})",
        f"rule set   {decision.version}",
    ]
    stdout.print("\n".join(lines), markup=False)
    _rules_table([u.model_dump() for u in decision.consulted])


# -- commands -----------------------------------------------------------------------------------
@app.command("check")
def check(
    ctx: typer.Context,
    customer: CustomerOption,
    channel: ChannelOption,
    scenario: ScenarioOption,
    kind: KindOption = None,
    at: AtOption = None,
    json_output: JsonOption = False,
) -> None:
    """Evaluate a send without recording anything. Exit 0 allowed, 3 deferred or denied."""
    send = _send(ctx, customer, channel, scenario, kind, at)
    try:
        decision = send.ledger.check(customer, send.channel, scenario, kind=send.kind, at=send.at)
    except LedgerError as exc:
        fail(f"--customer: {exc}")
    data = _decision_data(decision, send)
    if json_output:
        emit_json(data)
    else:
        _show_decision(decision, send)
    if decision.outcome is not DecisionOutcome.ALLOWED:
        raise typer.Exit(EXIT_REFUSED)


@app.command("reserve")
def reserve(
    ctx: typer.Context,
    customer: CustomerOption,
    channel: ChannelOption,
    scenario: ScenarioOption,
    kind: KindOption = None,
    at: AtOption = None,
    commit: Annotated[bool, typer.Option("--commit", help="Record it as sent at once.")] = False,
    idempotency_key: Annotated[
        str | None, typer.Option("--idempotency-key", help="The same key replays the decision.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Decide and, when allowed, hold the slot atomically. Exit 0 allowed, 3 refused."""
    key = _checked(128, "--idempotency-key", idempotency_key)
    send = _send(ctx, customer, channel, scenario, kind, at)
    try:
        held = send.ledger.reserve(
            customer,
            send.channel,
            scenario,
            kind=send.kind,
            at=send.at,
            idempotency_key=key,
            commit=commit,
        )
    except LedgerError as exc:
        fail(f"--customer: {exc}")
    data = _decision_data(held.decision, send)
    data |= {"reservation_id": held.reservation_id, "replayed": held.replayed}
    if json_output:
        emit_json(data)
    else:
        _show_decision(held.decision, send)
        if held.reservation_id is not None:
            state = "recorded as sent" if commit else "held until committed or released"
            stdout.print(f"reservation {held.reservation_id} ({state})", markup=False)
        if held.replayed:
            stdout.print("replayed: an earlier call with this key made the decision", markup=False)
    if held.decision.outcome is not DecisionOutcome.ALLOWED:
        raise typer.Exit(EXIT_REFUSED)


def _transition(ctx: typer.Context, reservation_id: int, json: bool, sent: str | None) -> None:
    """Commit (``sent`` is the --at text, or "" for now) or release (``sent`` is None)."""
    sent_at = parse_instant(sent) if sent else None
    _, ledger = _ledger(ctx)
    try:
        if sent is None:
            status = ledger.release(reservation_id)
        else:
            status = ledger.commit(reservation_id, sent_at=sent_at)
    except LedgerError as exc:
        fail(f"RESERVATION_ID: {exc}")
    if json:
        emit_json({"reservation_id": reservation_id, "status": status})
    else:
        stdout.print(f"reservation {reservation_id}: {status}", markup=False)


ReservationArgument = Annotated[int, typer.Argument(help="The id `reserve` returned.")]


@app.command("commit")
def commit_cmd(
    ctx: typer.Context,
    reservation_id: ReservationArgument,
    at: AtOption = None,
    json_output: JsonOption = False,
) -> None:
    """The message went out: the reserved contact counts for good."""
    _transition(ctx, reservation_id, json_output, at or "")


@app.command("release")
def release_cmd(
    ctx: typer.Context, reservation_id: ReservationArgument, json_output: JsonOption = False
) -> None:
    """The send failed or was cancelled: free the slot."""
    _transition(ctx, reservation_id, json_output, None)


@app.command("record")
def record(
    ctx: typer.Context,
    customer: CustomerOption,
    channel: ChannelOption,
    scenario: ScenarioOption,
    at: SentAtOption,
    kind: KindOption = None,
    source: Annotated[str, typer.Option("--source", help="Who sent it.")] = "external",
    json_output: JsonOption = False,
) -> None:
    """Record a contact made outside the hub, so every later decision counts it."""
    _checked(64, "--source", source)
    send = _send(ctx, customer, channel, scenario, kind, at)
    try:
        entry = send.ledger.record(
            customer, send.channel, scenario, at=send.at, kind=send.kind, source=source
        )
    except LedgerError as exc:
        fail(f"--customer: {exc}")
    weight = send.ledger.policy.weight(send.channel, scenario)
    data = {
        "id": entry, "customer_id": customer, "channel": send.channel.value, "scenario": scenario,
        "kind": send.effective_kind.value, "weight": weight, "at": send.at.isoformat(),
        "source": source, "status": "recorded",
    }  # fmt: skip
    if json_output:
        emit_json(data)
    else:
        stdout.print(
            f"recorded #{entry}: {data['kind']} {scenario} by {data['channel']} to {customer} "
            f"at {_when(send.at, send.zone)} (source {source}, weight {data['weight']:g})",
            markup=False,
        )


@app.command("explain")
def explain_cmd(
    ctx: typer.Context,
    customer_id: Annotated[str, typer.Argument(help="Hub customer id.")],
    at: AtOption = None,
    limit: Annotated[int, typer.Option("--decisions", min=0, max=1000, help="How many.")] = 10,
    json_output: JsonOption = False,
) -> None:
    """A customer's ledger, each rule's usage now per channel, and the last decisions."""
    when = parse_instant(at)
    engine, ledger = _ledger(ctx)
    try:
        data = explain(engine, ledger, customer_id, at=when, decisions=limit)
    except UnknownCustomer:
        fail(f"ID: unknown customer {customer_id!r}")
    zone = CustomerZone(ZoneInfo(data["time_zone"]), data["time_zone_source"])
    if json_output:
        emit_json(data)
        return
    stdout.print(
        f"customer {customer_id} at {_when(when, zone)}\ntime zone {zone.zone.key} "
        f"({zone.source}); rule set {data['rule_set_version']}; lookback {data['lookback']}",
        markup=False,
    )
    stdout.print(f"\nledger ({len(data['ledger'])} rows)", markup=False)
    columns = ["at", "channel", "scenario", "kind", "weight", "status", "counts", "source"]
    table(columns, [[r[c] for c in columns] for r in data["ledger"]])
    for usage in data["usage"]:
        until = datetime.fromisoformat(usage["until"]) if usage["until"] else None
        after = f" until {_when(until, zone)}" if until else ""
        stdout.print(
            f"\n{usage['channel']}: a marketing send ({usage['scenario']}) now would be "
            f"{usage['decision']}{after}\n  {usage['reason']}",
            markup=False,
        )
        _rules_table(usage["rules"], extra=("scenario",))
    stdout.print(f"\nlast decisions ({len(data['decisions'])})", markup=False)
    columns = ["decided_at", "outcome", "channel", "scenario", "rule", "reason"]
    table(columns, [[d[c] for c in columns] for d in data["decisions"]])


@app.command("report")
def report_cmd(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Pressure across customers, decisions by outcome and rule, reservations, volumes."""
    engine, ledger = _ledger(ctx)
    data = report(engine, ledger.policy)
    if json_output:
        emit_json(data)
        return
    p = data["pressure"]
    rule = f" (rule {p['rule']}, limit {p['limit']:g})" if p["rule"] else ""
    stdout.print(f"pressure: {p['measure']}{rule}; customers: {p['customers']}", markup=False)
    stdout.print(
        f"  min {p['min']}  p50 {p['p50']}  p90 {p['p90']}  p99 {p['p99']}  max {p['max']}"
        f"  (zero: {p['zero']})",
        markup=False,
    )
    table(["low", "high", "customers"], [list(b.values()) for b in p["histogram"]])
    decisions = data["decisions"]
    outcomes = ", ".join(f"{k} {v}" for k, v in decisions["by_outcome"].items())
    stdout.print(f"\ndecisions since {decisions['since'][:19]} UTC: {outcomes}", markup=False)
    table(["rule", "deferred", "denied"], [list(r.values()) for r in decisions["by_rule"]])
    held = data["reservations"]
    stdout.print(
        f"\nreservations: {held['active']} active, {held['lapsed']} past their TTL (not counted)"
        "\n\ncontacts by channel",
        markup=False,
    )
    table(
        ["channel", "last 7d", "last 30d"],
        [[c, v["last_7d"], v["last_30d"]] for c, v in data["contacts"].items()],
    )
