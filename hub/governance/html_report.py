"""The governance report as ONE static page: inline CSS, inline SVG, no script, no link.

An IT person opens it from a mail or a file share, possibly offline, possibly in a locked-down
browser: nothing is fetched from anywhere. Every text that comes from config, a brick or the
database is escaped, so a brick description cannot inject markup. The output is also
well-formed XML (void elements closed, attributes quoted, only XML's own entities), so it can
be checked by a strict parser as well as by a browser.
"""

from __future__ import annotations

from html import escape

from hub import __version__
from hub.governance.present import (
    MEASURES,
    coverage_text,
    fields_text,
    holds_text,
    instant,
    known,
    listing,
    transfers_text,
)
from hub.governance.report import WINDOW_DAYS, BrickReport, GovernanceReport

__all__ = ["render_html", "transfers_chart"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:64rem;padding:0 1rem;color:#1d2430;line-height:1.45}
h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #d5dae1;padding-bottom:.2rem}
.meta{color:#566172;margin-top:0}
table{border-collapse:collapse;margin:.6rem 0;width:100%}
th,td{text-align:left;vertical-align:top;padding:.3rem .6rem;border-bottom:1px solid #e4e7ec}
th{background:#f3f5f8;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.kv th{width:14rem;background:none;color:#3c4656}
.badge{display:inline-block;font-size:.8rem;padding:.05rem .5rem;border-radius:.7rem;
margin-left:.5rem;vertical-align:middle;background:#e4e7ec;color:#1d2430}
.enabled{background:#d9f2e1;color:#14532d}.disabled{background:#eceff3;color:#475569}
.decommissioned,.not-installed{background:#fde2e1;color:#7f1d1d}
.warn{color:#8a4b00}
svg.chart{display:block;margin:.4rem 0 1rem 0}
svg.chart .bar{fill:#3a6ea5}svg.chart .axis{stroke:#9aa4b2;stroke-width:1}
svg.chart text{font-size:10px;fill:#566172}
ul.policy li{margin:.3rem 0}
footer{margin-top:3rem;color:#566172;font-size:.85rem}
"""


def _e(value: object) -> str:
    """Escape for text and double-quoted attributes alike (``&#x27;`` is valid XML too)."""
    return escape(str(value), quote=True)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)


def _status_class(status: str) -> str:
    return _slug(status.replace(" ", "-"))


def transfers_chart(daily: list[tuple[str, int]], label: str) -> str:
    """A bar per day, drawn as inline SVG: hover titles give each day's exact count."""
    width, height, left, bottom, top = 600, 110, 34, 18, 8
    plot_w, plot_h = width - left - 4, height - bottom - top
    peak = max((n for _, n in daily), default=0)
    step = plot_w / max(len(daily), 1)
    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{_e(label)}">',
        f"<title>{_e(label)}</title>",
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width - 4}" '
        f'y2="{top + plot_h}"/>',
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for index, (day, count) in enumerate(daily):
        bar_h = 0.0 if peak == 0 else plot_h * count / peak
        x = left + index * step + 1
        y = top + plot_h - bar_h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" '
            f'height="{bar_h:.1f}"><title>{_e(day)}: {count} transfers</title></rect>'
        )
    if daily:
        parts.append(f'<text x="{left}" y="{height - 4}">{_e(daily[0][0])}</text>')
        parts.append(
            f'<text x="{width - 4}" y="{height - 4}" text-anchor="end">{_e(daily[-1][0])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _kv(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def _badge(status: str) -> str:
    return f'<span class="badge {_status_class(status)}">{_e(status)}</span>'


def _summary(report: GovernanceReport) -> str:
    counts = report.counts()
    never = report.never_used
    rows = [
        ("Bricks", str(counts["bricks"])),
        ("Enabled (data may flow to them)", str(counts["enabled"])),
        ("Disabled", str(counts["disabled"])),
        ("Decommissioned", str(counts["decommissioned"])),
        ("Not installed any more, with history", str(counts["not_installed"])),
        (f"Transfers in the last {WINDOW_DAYS} days", str(counts["transfers_last_days"])),
        ("Enabled but never used", listing(never)),
        ("Installed, not configured (never used)", listing(report.unconfigured)),
    ]
    head = (
        "<tr><th>Brick</th><th>Status</th><th>Customers held</th><th>Last transfer</th>"
        f"<th>Transfers ({WINDOW_DAYS} days)</th><th>Consent coverage</th></tr>"
    )
    lines = []
    for brick in report.bricks:
        held = "-" if brick.held_measure == "none" else str(brick.held)
        share = "-" if brick.coverage is None else f"{brick.coverage:.0%}"
        lines.append(
            f'<tr><td><a href="#brick-{_e(_slug(brick.name))}">{_e(brick.name)}</a></td>'
            f"<td>{_badge(brick.status)}</td>"
            f'<td class="num">{_e(held)}</td><td>{_e(instant(brick.last_transfer))}</td>'
            f'<td class="num">{brick.transfers_window}</td><td class="num">{_e(share)}</td></tr>'
        )
    table = f"<table><thead>{head}</thead><tbody>{''.join(lines)}</tbody></table>"
    warning = ""
    if never:
        warning = (
            '<p class="warn">Enabled but never used (no audit row, never polled): '
            f"{_e(listing(never))}. Disable them if they are not needed.</p>"
        )
    return f'<section id="summary"><h2>Summary</h2>{_kv(rows)}{warning}{table}</section>'


def _brick(brick: BrickReport) -> str:
    rows = [
        ("Status", brick.status + ("" if brick.receives_data else " (receives no data)")),
        ("Capabilities", known(brick, brick.capabilities)),
        ("Channels", known(brick, brick.channels)),
        ("Fields it may receive", fields_text(brick)),
        ("Purposes", known(brick, brick.purposes)),
        ("Customers held", holds_text(brick)),
        ("Consent coverage", coverage_text(brick)),
        ("Last transfer", instant(brick.last_transfer)),
        ("Transfers", transfers_text(brick, WINDOW_DAYS)),
        ("Audit rows by action", listing([f"{a} {n}" for a, n in brick.actions.items()])),
    ]
    if brick.decommissioned_at is not None:
        rows.append(("Decommissioned at", instant(brick.decommissioned_at)))
    if brick.installed:
        rows.insert(1, ("Plugin / version", f"{brick.plugin} {brick.version}".strip()))
    never = '<p class="warn">Enabled but never used.</p>' if brick.never_used else ""
    description = f"<p>{_e(brick.description)}</p>" if brick.description else ""
    label = f"Transfers per day to {brick.name}, last {WINDOW_DAYS} days (UTC)"
    return (
        f'<section class="brick" id="brick-{_e(_slug(brick.name))}">'
        f"<h2>{_e(brick.name)}{_badge(brick.status)}</h2>{description}{never}{_kv(rows)}"
        f"<h3>{_e(label)}</h3>{transfers_chart(brick.daily, label)}</section>"
    )


def _policy(report: GovernanceReport) -> str:
    items = "".join(f"<li>{_e(line.text)}</li>" for line in report.policy)
    return (
        '<section id="policy"><h2>Commercial-pressure policy</h2>'
        f"<p>Rule set version {_e(report.rule_set_version)}, as enforced by the pressure "
        f'ledger for every channel and every brick.</p><ul class="policy">{items}</ul></section>'
    )


def _reading() -> str:
    items = [
        "Customers held: " + "; ".join(f"{k}: {v}" for k, v in MEASURES.items()) + ".",
        "Last transfer and transfers per day: egress rows of the audit log (one per customer "
        "view handed to the brick); days are UTC.",
        "Consent coverage: the share of the customers held whose current consent is granted "
        "for every purpose of the brick that needs consent (marketing, profiling, analytics; "
        "transactional needs none), on at least one of its channels (any channel for a brick "
        "without channels).",
        "Enabled but never used: enabled in config, no audit row ever, never polled.",
        "The audit log holds field names, pseudonyms and purposes, never values: this page "
        "contains no personal data.",
    ]
    body = "".join(f"<li>{_e(item)}</li>" for item in items)
    return f'<section id="reading"><h2>How to read this report</h2><ul>{body}</ul></section>'


def render_html(report: GovernanceReport) -> str:
    """The whole page as a string (UTF-8 when written)."""
    config = report.config_path or "environment variables only"
    meta = (
        f"Generated {_e(instant(report.generated_at))} for the state at "
        f"{_e(instant(report.at))}; configuration {_e(config)}; hub {_e(__version__)}."
    )
    body = "".join(
        [
            "<h1>Governance report</h1>",
            f'<p class="meta">{meta}</p>',
            _summary(report),
            *(_brick(b) for b in report.bricks),
            _policy(report),
            _reading(),
            f"<footer>{meta}</footer>",
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"/>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"/>'
        f"<title>Governance report {_e(instant(report.at))}</title>"
        f"<style>{_CSS}</style></head><body>{body}</body></html>\n"
    )
