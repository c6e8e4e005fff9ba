"""The HTML report: one static page, well-formed, self-contained, escaped everywhere."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import insert

from hub.governance import build_report, render_html
from hub.governance.html_report import transfers_chart
from hub.storage.db import create_db_engine, upgrade
from hub.storage.models import AuditEntry, table
from tests.governance.conftest import AT, BRICKS, DAY, IdleMail, audit, configured, fill_history

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes" \'too\''
EVIL_NAME = '<b onclick="x">evil</b>'


class EvilMail(IdleMail):
    name: ClassVar[str] = "evil_mail"
    description: ClassVar[str] = EVIL


@pytest.fixture
def sqlite_engine(tmp_path: Path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def page(sqlite_engine, settings) -> str:
    fill_history(sqlite_engine)
    with sqlite_engine.begin() as conn:  # a brick name that only the database knows
        conn.execute(insert(table(AuditEntry)), [audit(99, AT - DAY, EVIL_NAME, "cus_1")])
    bricks = {**BRICKS, "evil_mail": configured(EvilMail)}
    report = build_report(
        sqlite_engine, bricks, settings, at=AT, generated_at=AT, config_path=Path("/etc/hub.toml")
    )
    return render_html(report)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend(attrs)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_data(self, data):
        self.text.append(data)


def _parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    collector.close()
    return collector


def test_well_formed_for_a_strict_xml_parser(page):
    root = ET.fromstring(page.removeprefix("<!DOCTYPE html>\n"))
    assert root.tag == "html"
    assert root.find("head/style") is not None and root.find("head/title") is not None
    sections = root.findall(".//section")
    ids = [s.get("id") for s in sections]
    assert ids[0] == "summary" and "policy" in ids and "reading" in ids
    bricks = [s for s in sections if s.get("class") == "brick"]
    assert len(bricks) == 11  # 9 of the history + evil_mail + the name only the log knows
    assert all(s.find(".//svg") is not None for s in bricks)
    assert page.startswith("<!DOCTYPE html>\n")


def test_self_contained_nothing_fetched_no_script(page):
    parsed = _parse(page)
    assert not {"script", "link", "img", "iframe", "object", "embed", "video", "audio"} & set(
        parsed.tags
    )
    names = {name for name, _ in parsed.attributes}
    assert not {"src", "srcset", "action", "formaction"} & names
    assert not any(name.startswith("on") for name in names)
    hrefs = [value for name, value in parsed.attributes if name in ("href", "xlink:href")]
    assert hrefs and all(value and value.startswith("#") for value in hrefs)
    lowered = page.lower()
    for external in ("http://", "https://", "url(", "@import", "//fonts", "data:"):
        assert external not in lowered


def test_brick_text_cannot_inject_markup(page):
    assert "<script" not in page and "<img" not in page and "<b onclick" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    text = "".join(_parse(page).text)
    assert EVIL in text  # shown to the reader exactly as written, as text
    assert EVIL_NAME in text


def test_summary_policy_and_meta(page):
    text = " ".join(_parse(page).text)
    assert "Generated 2026-11-20 12:00 UTC" in text
    assert "/etc/hub.toml" in text
    assert "Enabled but never used" in text and "evil_mail, idle_mail" in text
    assert "weekly: at most 3 marketing messages per 7 days across all channels" in text
    assert "quiet hours 21:00-08:00 (overnight) in the customer's time zone" in text
    assert "67% (2 of 3 customers; needs marketing granted on sms or push)" in text


def test_chart_bars_follow_the_counts():
    daily = [("2026-11-01", 0), ("2026-11-02", 4), ("2026-11-03", 2)]
    svg = ET.fromstring(transfers_chart(daily, "label <&>"))
    bars = [r for r in svg.iter("rect")]
    heights = [float(r.get("height")) for r in bars]
    assert heights[0] == 0 and heights[1] == pytest.approx(2 * heights[2])
    assert [r.find("title").text for r in bars][1] == "2026-11-02: 4 transfers"
    assert svg.find("title").text == "label <&>"
    empty = ET.fromstring(transfers_chart([("2026-11-01", 0)], "none"))
    assert [float(r.get("height")) for r in empty.iter("rect")] == [0.0]
