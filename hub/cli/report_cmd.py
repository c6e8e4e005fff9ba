"""``hub report``: customer-centricity and delivery outcomes, from what the hub recorded."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from contracts import OutcomeType
from hub.cli.output import emit_json, fail, parse_instant, stdout
from hub.cli.tables import table
from hub.reports.centricity import DEFAULT_THRESHOLD, centricity
from hub.reports.outcomes import outcome_report
from hub.reports.periods import Period

app = typer.Typer(help="Reports: customer-centricity, outcomes.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
SinceOption = Annotated[
    str | None, typer.Option("--since", help="From this instant (ISO 8601 with offset).")
]
UntilOption = Annotated[
    str | None, typer.Option("--until", help="Before this instant (ISO 8601 with offset).")
]
_RATES = (
    OutcomeType.DELIVERED,
    OutcomeType.OPENED,
    OutcomeType.CLICKED,
    OutcomeType.BOUNCED_HARD,
    OutcomeType.BOUNCED_SOFT,
    OutcomeType.COMPLAINED,
    OutcomeType.UNSUBSCRIBED,
)


def _window(since: str | None, until: str | None) -> dict[str, Any]:
    return {
        "since": parse_instant(since, "--since") if since else None,
        "until": parse_instant(until, "--until") if until else None,
    }


@app.command("centricity")
def centricity_cmd(
    ctx: typer.Context,
    period: Annotated[str, typer.Option("--period", help="day, week or month (UTC).")] = "week",
    threshold: Annotated[
        float, typer.Option("--threshold", help="Customer-centric from this share of sends.")
    ] = DEFAULT_THRESHOLD,
    since: SinceOption = None,
    until: UntilOption = None,
    json_output: JsonOption = False,
) -> None:
    """Sends triggered by a customer moment / all sends, per period (the seeds' 25 % yardstick)."""
    try:
        chosen = Period(period)
    except ValueError:
        fail(f"--period: {period!r} is not one of day, week, month")
    if not 0 < threshold <= 1:
        fail("--threshold: must be a share between 0 and 1 (e.g. 0.25)")
    engine = ctx.obj.runtime().ready_engine()
    rows = centricity(engine, chosen, **_window(since, until))
    triggered = sum(r.triggered for r in rows)
    total = sum(r.total for r in rows)
    overall = triggered / total if total else None
    if json_output:
        emit_json(
            {
                "period": chosen.value,
                "threshold": threshold,
                "triggered": triggered,
                "total": total,
                "ratio": overall,
                "customer_centric": None if overall is None else overall >= threshold,
                "periods": [
                    {
                        "start": r.period,
                        "triggered": r.triggered,
                        "total": r.total,
                        "ratio": r.ratio,
                        "below_threshold": r.below(threshold),
                    }
                    for r in rows
                ],
            }
        )
        return
    if not rows:
        stdout.print("no sent messages in this window", markup=False)
        return
    table(
        [f"{chosen.value} from", "triggered", "all sends", "share"],
        [
            [
                r.period,
                r.triggered,
                r.total,
                f"{r.ratio:.0%}" + (" (low)" if r.below(threshold) else ""),
            ]
            for r in rows
        ],
    )
    verdict = (
        "customer-centric"
        if overall is not None and overall >= threshold
        else (f"below {threshold:.0%}: mostly campaign-driven")
    )
    stdout.print(f"overall: {triggered}/{total} = {overall:.0%}, {verdict}", markup=False)


@app.command("outcomes")
def outcomes_cmd(
    ctx: typer.Context,
    since: SinceOption = None,
    until: UntilOption = None,
    json_output: JsonOption = False,
) -> None:
    """Sent, failed, and per outcome how many messages reported it, per scenario and channel."""
    engine = ctx.obj.runtime().ready_engine()
    rows = outcome_report(engine, **_window(since, until))
    if json_output:
        emit_json(
            [
                {
                    "scenario": r.scenario,
                    "channel": r.channel,
                    "sent": r.sent,
                    "failed": r.failed,
                    "messages_with": {t.value: r.messages_with.get(t.value, 0) for t in _RATES},
                    "rates": {t.value: r.rate(t) for t in _RATES},
                }
                for r in rows
            ]
        )
        return
    if not rows:
        stdout.print("no messages in this window", markup=False)
        return

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    table(
        ["scenario", "channel", "sent", "failed", *[t.value for t in _RATES]],
        [
            [r.scenario, r.channel, r.sent, r.failed, *[pct(r.rate(t)) for t in _RATES]]
            for r in rows
        ],
    )
