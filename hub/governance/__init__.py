"""Governance IT can read: the egress audit log queried, and the governance report.

``hub audit`` reads the audit log (``read_audit``); ``hub governance report`` assembles, per
brick, what it may receive, what it holds, what it received and under which consent, plus the
pressure policy in words (``build_report``), as text, JSON or one static HTML page
(``render_html``). Everything is read-only and set-based SQL.
"""

from __future__ import annotations

from hub.governance.audit_log import (
    AUDIT_COLUMNS,
    KNOWN_ACTIONS,
    AuditFilter,
    AuditRow,
    read_audit,
)
from hub.governance.html_report import render_html
from hub.governance.policy_words import PolicyLine, describe_policy
from hub.governance.report import WINDOW_DAYS, BrickReport, GovernanceReport, build_report

__all__ = [
    "AUDIT_COLUMNS",
    "KNOWN_ACTIONS",
    "WINDOW_DAYS",
    "AuditFilter",
    "AuditRow",
    "BrickReport",
    "GovernanceReport",
    "PolicyLine",
    "build_report",
    "describe_policy",
    "read_audit",
    "render_html",
]
