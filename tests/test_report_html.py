"""The HTML report for a manager: the accountable people and the money head it, the
refunds still to do are listed, the chart tells the incidents apart by colour, pattern
and legend, no pseudo-severity badge, and layouts for print and phone; log text in all
of it escaped."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from auditlog import store
from auditlog.analysis.findings import run_packs
from auditlog.engines.cases import build_fixture
from auditlog.ingest.world import sample_logs_dir
from auditlog.pack import load_rules
from auditlog.report.accountability import accountability
from auditlog.report.chart import svg_chart
from auditlog.report.html import render_html
from auditlog.report.model import Report
from tests.test_report import HOSTILE, hostile_tables, loaded_db


def report_at(db: Path) -> Report:
    con = store.connect(db, read_only=True)
    try:
        return accountability(con)
    finally:
        con.close()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Report:
    db = loaded_db(sample_logs_dir(), tmp_path_factory.mktemp("html") / "s.duckdb")
    return report_at(db)


@pytest.fixture(scope="module")
def page(sample: Report) -> str:
    return render_html(sample)


def test_the_headline_names_the_accountable_people_and_the_money(sample: Report,
                                                                 page: str) -> None:
    (headline,) = re.findall(r'<h1 id="headline">(.*?)</h1>', page, re.DOTALL)
    changes = {i.change_id for i in sample.incidents if i.change_id}
    assert changes and not any(c in headline for c in changes)
    for incident in sample.incidents:
        for person in incident.accountable:
            name = sample.people.get(person, {}).get("display_name") or person
            assert name in headline
    assert "EUR 3,444.22" in headline and "EUR 689.39 still to refund" in headline
    # A change's implementer and approver answer for it; an account acting on its own
    # answers for itself.
    by_change = {i.change_id: i for i in sample.incidents}
    for change in sample.changes:
        assert set(by_change[change.change_id].accountable) == {
            x for x in (change.implementer, change.approver) if x}
    own = [i for i in sample.incidents if i.change_id is None]
    assert own and all(i.accountable == (i.actor,) for i in own)


def test_the_refunds_still_to_do_are_listed_and_add_up(sample: Report, page: str) -> None:
    due = sample.refunds_due
    assert len(due) == sample.summary.outstanding_charges
    assert sum((d.outstanding for d in due), Decimal(0)) == sample.summary.outstanding_amount
    section = page[page.index('<section id="refunds">'):]
    section = section[:section.index("</section>")]
    assert section.count("<tr>") == len(due) + 1  # and the header
    assert all(d.charge_id in section for d in due)


def test_the_chart_tells_the_incidents_apart(sample: Report) -> None:
    chart = sample.chart
    assert chart is not None and len(chart.series) == len(sample.incidents) >= 2
    assert all(sum(b.parts) == b.anomalous for b in chart.bars)
    per_incident = [sum(b.parts[k] for b in chart.bars) for k in range(len(chart.series))]
    assert per_incident == [i.charges for i in sample.incidents]
    svg = svg_chart(chart)
    fills = set(re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="[\d.]+" '
                           r'fill="([^"]+)"/>', svg))
    assert {"#d92d20", "url(#incident-1)"} <= fills  # a colour, and a pattern: not colour alone
    assert all(label in svg for label in chart.series)  # the legend names each


def test_no_pseudo_severity_and_layouts_for_print_and_phone(page: str) -> None:
    assert "sev-records" not in page and ">records<" not in page
    print_css = page[page.index("@media print"):]
    assert re.search(r"#chart[^{]*\{\s*break-inside: avoid", print_css)
    phone_css = page[page.index("@media (max-width: 600px)"):]
    assert ".card .value { font-size: 18px; white-space: normal" in phone_css
    assert "Coverage:" in page or "What the logs cannot show" in page


def test_log_text_in_headline_refunds_and_chart_is_escaped(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    db = tmp_path_factory.mktemp("hostile-html") / "h.duckdb"
    build_fixture(db, hostile_tables())
    run_packs(db, load_rules())
    page = render_html(report_at(db))
    assert "<script" not in page and "<img" not in page and "&lt;script&gt;" in page
    assert HOSTILE not in page
    # The hostile account's directory name heads the page, escaped.
    (headline,) = re.findall(r'<h1 id="headline">(.*?)</h1>', page, re.DOTALL)
    assert headline.startswith("&lt;img src=x onerror=&#34;boom&#34;&gt; is accountable")
