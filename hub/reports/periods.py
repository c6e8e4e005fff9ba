"""Calendar buckets (UTC) as SQL expressions, the same on SQLite and PostgreSQL.

Grouping in the database keeps a report over millions of sends to one pass; the expressions
differ per dialect because SQLite stores timestamps as ISO text and has no ``date_trunc``.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Date, cast, func, literal_column
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement

__all__ = ["Period", "period_start"]


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


def period_start(
    column: ColumnElement[object], period: Period, dialect: Dialect
) -> ColumnElement[str]:
    """The first day (``YYYY-MM-DD``, UTC) of the period holding ``column``; weeks start Monday."""
    if dialect.name == "sqlite":
        day = func.substr(column, 1, 10)
        if period is Period.DAY:
            return day
        if period is Period.WEEK:
            return func.date(day, "-6 days", "weekday 1")
        return func.substr(column, 1, 7).op("||")("-01")
    utc = column.op("AT TIME ZONE")(literal_column("'UTC'"))
    return func.to_char(cast(func.date_trunc(period.value, utc), Date), "YYYY-MM-DD")
