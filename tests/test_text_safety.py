"""Text from logs is data: a field or a file name holding Rich markup, ANSI/OSC escape
sequences, HTML or Markdown shows literally in every terminal command, in the Markdown
and HTML reports and in error messages, and never acts (no style, link, clear screen,
tag, image or broken table), and an emoji code such as `:warning:` stays text."""

from __future__ import annotations

import ast
import io
import json
import re
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import typer
from markdown_it import MarkdownIt
from rich.console import Console
from rich.text import Text
from typer.testing import CliRunner

import auditlog.cli
from auditlog import store
from auditlog.analysis.findings import run_packs
from auditlog.cli import app, main
from auditlog.cli.common import SafeConsole, console, err_console
from auditlog.cli.render import write_csv
from auditlog.engines.cases import build_fixture
from auditlog.engines.spark import INSTALL_HINT
from auditlog.errors import InputError
from auditlog.pack import load_rules
from auditlog.report.accountability import accountability
from auditlog.report.html import render_html
from auditlog.report.markdown import render_markdown
from auditlog.report.model import Report
from auditlog.report.terminal import render_terminal
from auditlog.textsafe import _CONTROLS, json_document, markdown, terminal, visible

runner = CliRunner()

ESC = "\x1b"
OSC_LINK = "\x1b]8;;http://evil.example\x1b\\"
CLEAR = "\x1b[2J"
IMG = "<img src=x onerror=alert(1)>"

# Every field a command prints holds at least one hostile string.
ACTOR = "svc-[bold]x[/]-:thumbs_up:-" + CLEAR  # an emoji code stays text
CUSTOMER = "C-[/]-1"
PRODUCT = "PKG-" + IMG
CHANGE = "CHG-[/]-" + OSC_LINK + "click"
SUMMARY = ("![x](http://evil.example/x.png) [y](javascript:alert(1)) </td></tr> "
           "<script>alert(1)</script> | # not a heading")
TICKET = "T-|-[link=http://evil.example]link[/link]"
GRANTER = ESC + "[31mroot" + ESC + "[0m"
CHARGE = "CH-[bold]1[/]"
NAME = IMG
TEAM = "[/] :warning:"
FILE = "/logs/dir[/]x-" + CLEAR + ".jsonl"
RAW = '{"actor": "' + OSC_LINK + '[bold]x[/]"}'
HOSTILE = (ACTOR, CUSTOMER, PRODUCT, CHANGE, SUMMARY, TICKET, GRANTER, CHARGE, NAME, TEAM)


def hostile_tables() -> dict[str, list[dict[str, Any]]]:
    """A privileged service account subscribing a customer who never ordered, under a
    self-approved change, and a quarantined row of a file with a hostile name."""
    day = "2026-05-04"
    return {
        "accounts": [{"account": ACTOR, "display_name": NAME, "team": TEAM,
                      "account_type": "service", "owner": GRANTER}],
        "privileges": [{"event_id": "P-1", "ts": f"{day}T07:00:00Z", "actor": GRANTER,
                        "subject": ACTOR, "privilege": "billing:" + IMG, "operation": "grant",
                        "system": "orders", "ticket": TICKET}],
        "changes": [{"change_id": CHANGE, "system": "orders", "kind": "upgrade",
                     "summary": SUMMARY, "implementer": GRANTER, "approver": GRANTER,
                     "ticket": TICKET, "started_at": f"{day}T08:00:00Z",
                     "window_start": f"{day}T09:00:00Z", "window_end": f"{day}T10:00:00Z"}],
        "actions": [{"event_id": "E-1", "ts": f"{day}T10:00:00Z", "actor": ACTOR,
                     "actor_type": "service", "action": "subscribe", "system": "orders",
                     "target_account": CUSTOMER, "object": PRODUCT, "order_id": "O-1",
                     "change_id": CHANGE}],
        "charges": [{"charge_id": CHARGE, "ts": f"{day}T10:05:00Z", "account": CUSTOMER,
                     "product": PRODUCT, "amount": "9.90", "currency": "EUR",
                     "order_id": "O-1"}],
        "ingested_files": [{"sha256": "ab" * 32, "path": FILE, "kind": "actions",
                            "format": "jsonl", "tz": "UTC", "rows_read": 2, "loaded": 1,
                            "duplicates": 0, "quarantined": 1,
                            "ingested_at": f"{day}T12:00:00Z"}],
        "quarantine": [{"file_sha256": "ab" * 32, "path": FILE, "kind": "actions",
                        "row_number": 2, "location": "line 2",
                        "reason": "missing ts [bold]x[/]", "raw": RAW,
                        "ingested_at": f"{day}T12:00:00Z"}],
    }


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("hostile") / "h.duckdb"
    build_fixture(db, hostile_tables())
    run_packs(db, load_rules())
    return db


@pytest.fixture(scope="module")
def report(hostile_db: Path) -> Report:
    con = store.connect(hostile_db, read_only=True)
    try:
        return accountability(con, None)
    finally:
        con.close()


@pytest.fixture(autouse=True)
def wide_consoles() -> Iterator[None]:
    """Wide enough that no hostile value wraps, so each shows on one line."""
    widths = console.width, err_console.width
    console.width = err_console.width = 400
    yield
    console.width, err_console.width = widths


def assert_literal(output: str, *texts: str) -> None:
    """Each text shows as written (its controls as \\x1b), and nothing obeyed one: no
    escape character at all reached the output."""
    assert ESC not in output and "\x9b" not in output
    for text in texts:
        assert visible(text) in output, (visible(text), output)


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


# --- the text-safety functions -------------------------------------------------------------

@pytest.mark.parametrize(("text", "shown"), [
    (CLEAR, "\\x1b[2J"),
    (OSC_LINK, "\\x1b]8;;http://evil.example\\x1b\\"),
    ("a\u009b2Jb", "a\\x9b2Jb"),
    ("admin\u202e\u2066txt.exe", "admin\\u202e\\u2066txt.exe"),
    ("line\nbreak\ttab\x00nul\x7f", "line\\x0abreak\\x09tab\\x00nul\\x7f"),
    ("café [x] ✓", "café [x] ✓"),
])
def test_visible_writes_out_every_control_character(text: str, shown: str) -> None:
    assert visible(text) == shown


def test_visible_escapes_every_control_it_lists() -> None:
    for code in _CONTROLS:
        assert visible(chr(code)) == (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def test_visible_keeps_layout_only_when_asked() -> None:
    assert visible("a\nb\tc\x1b", keep_lines=True) == "a\nb\tc\\x1b"


def test_terminal_text_is_never_markup_and_keeps_its_own_styles() -> None:
    text = terminal(("error:", "bold red"), " ", ACTOR, (TICKET, "yellow"))
    assert text.plain == "error: " + visible(ACTOR) + visible(TICKET)
    styles = {str(span.style) for span in text.spans}
    assert styles == {"bold red", "yellow"}  # no style came from the data's markup


@pytest.mark.parametrize(("value", "escaped"), [
    ("[bold]x[/]", "\\[bold\\]x\\[/\\]"),
    (IMG, "&lt;img src=x onerror=alert\\(1\\)&gt;"),
    ("a | b", "a \\| b"),
    ("![x](http://e)", "\\!\\[x\\]\\(http://e\\)"),
    ("# heading", "\\# heading"),
    ("- item", "\\- item"),
    ("12. item", "12\\. item"),
    ("> quote", "&gt; quote"),
    ("`code` *em* ~del~ $x$", "\\`code\\` \\*em\\* \\~del\\~ \\$x\\$"),
    ("svc_orders _em_", "svc_orders \\_em\\_"),
    ("C:\\temp", "C:\\\\temp"),
    ("two\nlines", "two\\\\x0alines"),
    ("AT&T", "AT&amp;T"),
])
def test_markdown_escapes_each_syntax(value: str, escaped: str) -> None:
    assert markdown(value) == escaped


def test_json_document_escapes_controls_json_leaves_raw() -> None:
    document = {"k": "a\u009bb\u202ec\x1bd é"}
    text = json_document(document)
    assert text == '{\n  "k": "a\\u009bb\\u202ec\\u001bd é"\n}'
    assert json.loads(text) == document


# --- every terminal command ----------------------------------------------------------------

def test_status_shows_a_hostile_file_name_literally(hostile_db: Path) -> None:
    assert_literal(cli("status", "--db", str(hostile_db)), FILE)


def test_quarantine_shows_path_reason_and_raw_literally(hostile_db: Path) -> None:
    output = cli("quarantine", "--db", str(hostile_db))
    assert_literal(output, FILE, "missing ts [bold]x[/]", RAW)


def test_findings_show_fields_literally(hostile_db: Path) -> None:
    output = cli("findings", "--db", str(hostile_db))
    assert_literal(output, ACTOR)


def test_trace_charge_shows_every_step_literally(hostile_db: Path) -> None:
    output = cli("trace", "charge", CHARGE, "--db", str(hostile_db))
    assert_literal(output, CHARGE, ACTOR, CHANGE, TICKET)
    assert "anomalous" in output


def test_trace_change_and_account_show_fields_literally(hostile_db: Path) -> None:
    assert_literal(cli("trace", "change", CHANGE, "--db", str(hostile_db)), CHANGE, GRANTER)
    assert_literal(cli("trace", "account", ACTOR, "--db", str(hostile_db)),
                   ACTOR, NAME, TEAM, GRANTER, TICKET, "billing:" + IMG)


def test_timeline_shows_fields_literally(hostile_db: Path) -> None:
    output = cli("timeline", "--account", ACTOR, "--db", str(hostile_db))
    assert_literal(output, ACTOR, PRODUCT, CUSTOMER)


def test_remediation_table_shows_fields_literally(hostile_db: Path) -> None:
    output = cli("remediation", "--db", str(hostile_db))
    assert_literal(output, CHARGE, CUSTOMER, PRODUCT)


def test_report_in_the_terminal_shows_fields_literally(hostile_db: Path) -> None:
    output = cli("report", "accountability", "--db", str(hostile_db))
    assert_literal(output, ACTOR, CHANGE, TICKET, NAME, PRODUCT, TEAM, GRANTER)
    assert "\\x0a" not in output  # the report's own line breaks stay line breaks


def test_json_output_carries_exact_values_with_no_raw_escape(hostile_db: Path) -> None:
    output = cli("trace", "charge", CHARGE, "--db", str(hostile_db), "--format", "json")
    assert ESC not in output and "\\u001b]8;;http://evil.example" in output
    assert CHARGE in output and "[bold]x[/]" in output


def test_rules_show_prints_a_hostile_rule_file_literally(tmp_path: Path) -> None:
    pack = tmp_path / "rules"
    pack.mkdir()
    (pack / "hostile_rule.toml").write_text(
        'id = "hostile_rule"\ntitle = "[bold]x[/] [link=http://evil.example]here[/link]"\n'
        'severity = "low"\ndescription = "\\u001b[2J cleared"\n'
        'rationale = "[/]"\ninvestigate = "<img src=x>"\nrequires = ["actions"]\n',
        encoding="utf-8")
    (pack / "hostile_rule.sql").write_text(
        "-- [bold]not bold[/] \x1b[2J\nSELECT ts, CAST(NULL AS VARCHAR) AS change_id, actor, "
        "CAST(NULL AS VARCHAR) AS account, CAST(NULL AS DECIMAL(18, 4)) AS amount, "
        "[event_id] AS evidence, event_id AS key FROM actions\n", encoding="utf-8")
    output = cli("rules", "show", "hostile_rule", "--rules-dir", str(pack))
    assert_literal(output, "[bold]x[/] [link=http://evil.example]here[/link]", "[/]",
                   CLEAR + " cleared", "<img src=x>", "-- [bold]not bold[/] " + CLEAR,
                   str(pack / "hostile_rule.sql"))


# --- consoles, whatever prints to them ---------------------------------------------------------

def forced_terminal(console_type: type[Console]) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return console_type(file=out, force_terminal=True, color_system="truecolor",
                        width=400, highlight=False), out


def only_colour_sequences(output: str) -> bool:
    """Styles are SGR sequences (ESC [ … m); anything else (OSC 8 links, clear screen)
    would be the data acting."""
    return re.sub(r"\x1b\[[0-9;]*m", "", output).count(ESC) == 0


def test_safe_console_never_reads_markup_or_obeys_escapes() -> None:
    safe, out = forced_terminal(SafeConsole)
    safe.print(f"plain {ACTOR} {TICKET} {OSC_LINK}", markup=True)
    safe.print(Text("text " + CLEAR))  # a Text built without textsafe is checked too
    assert only_colour_sequences(out.getvalue())
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())
    assert f"plain {visible(ACTOR)} {TICKET} {visible(OSC_LINK)}" in plain
    assert "text \\x1b[2J" in plain


def test_terminal_report_is_safe_even_on_a_console_that_reads_markup(
        report: dict[str, Any]) -> None:
    """The renderer builds Text pieces itself, so a library user's ordinary Console
    (markup on) shows the data literally and styles it only where the report says."""
    ordinary, out = forced_terminal(Console)
    ordinary.print(render_terminal(report))
    output = out.getvalue()
    assert only_colour_sequences(output) and "\x1b]8;" not in output
    assert_literal(re.sub(r"\x1b\[[0-9;]*m", "", output), ACTOR, CHANGE, TICKET, NAME, TEAM)


# --- Markdown and HTML reports -----------------------------------------------------------

class Page(HTMLParser):
    """The tags, link targets and text of an HTML page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.urls += [v or "" for k, v in attrs if k in ("src", "href")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def markdown_page(text: str) -> Page:
    return Page(MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text))


def test_markdown_report_has_no_raw_html_link_or_image(report: dict[str, Any]) -> None:
    text = render_markdown(report)
    for raw in ("<img", "<script", "</td>", "](", "<http"):
        assert raw not in text
    page = markdown_page(text)
    assert "td" in page.tags and "blockquote" in page.tags  # tables and the summary render
    assert not {"img", "script", "a", "iframe"} & set(page.tags)
    assert page.urls == []


def test_markdown_report_renders_every_value_literally(report: dict[str, Any]) -> None:
    text = "".join(markdown_page(render_markdown(report)).text)
    for value in (ACTOR, CHANGE, SUMMARY, TICKET, NAME, PRODUCT):
        assert visible(value) in text, value
    assert ESC not in text


def test_markdown_tables_keep_their_shape_with_pipes_in_values(report: dict[str, Any]) -> None:
    text = render_markdown(report)
    for block in re.split(r"\n\s*\n", text):
        rows = [x for x in block.splitlines() if x.startswith("|")]
        if rows:
            widths = {len(re.split(r"(?<!\\)\|", x)) for x in rows}
            assert len(widths) == 1, rows
    ticket_row = next(x for x in text.splitlines() if x.startswith("| Ticket |"))
    assert ticket_row == "| Ticket | T-\\|-\\[link=http://evil.example\\]link\\[/link\\] |"


def test_html_report_has_no_live_element_and_shows_values(report: dict[str, Any]) -> None:
    html = render_html(report)
    page = Page(html)
    assert not {"img", "script", "a", "iframe"} & set(page.tags)
    assert page.urls == [] and ESC not in html and "<img" not in html
    text = "".join(page.text)
    for value in (ACTOR, CHANGE, SUMMARY, TICKET, NAME, PRODUCT):
        assert visible(value) in text, value


def test_report_command_writes_md_and_html_that_stay_inert(hostile_db: Path,
                                                          tmp_path: Path) -> None:
    md = cli("report", "accountability", "--db", str(hostile_db), "--format", "md")
    assert "<img" not in md and ESC not in md and "\\[bold\\]x\\[/\\]" in md
    out = tmp_path / "r.html"
    runner.invoke(app, ["report", "accountability", "--db", str(hostile_db),
                        "--format", "html", "--out", str(out)])
    assert "&lt;img src=x onerror=alert(1)&gt;" in out.read_text(encoding="utf-8")


# --- error messages and help ---------------------------------------------------------------

def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
             argv: list[str]) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["auditlog", *argv])
    with pytest.raises(SystemExit) as stop:
        main()
    code = stop.value.code
    return int(code) if isinstance(code, int) else -1, capsys.readouterr().err


def test_error_naming_a_file_with_brackets_is_one_literal_sentence(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "dir[/]x"  # the directory 'dir[' holding ']x'
    folder.mkdir(parents=True)
    bad = folder / ("[bold]x[red]" + CLEAR + ".jsonl")
    bad.write_bytes(b"\xff\xfe\x00binary\x00" * 50)
    code, err = run_main(monkeypatch, capsys,
                         ["ingest", str(bad), "--db", str(tmp_path / "e.duckdb")])
    assert code == 2 and "Traceback" not in err
    assert err.startswith("error: ") and visible(str(bad)) in err and ESC not in err


def test_error_message_text_is_not_markup(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    def failing() -> None:
        raise InputError(f"{INSTALL_HINT}; {FILE}: [red]bad[/] {OSC_LINK}")

    # main() runs the app register() builds for the command line (cli/__init__.py).
    monkeypatch.setattr(auditlog.cli, "register", lambda modules: failing)
    code, err = run_main(monkeypatch, capsys, [])
    assert code == 2
    assert err == f"error: {visible(INSTALL_HINT + '; ' + FILE + ': [red]bad[/] ' + OSC_LINK)}\n"
    assert "pip install 'auditlog[spark]'" in err


def test_unknown_id_in_an_error_shows_literally(hostile_db: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_main(monkeypatch, capsys,
                         ["trace", "charge", "[bold]nope[/]" + CLEAR, "--db", str(hostile_db)])
    assert code == 2 and "[bold]nope[/]\\x1b[2J" in err and ESC not in err


def every_help(command: Any) -> Iterator[tuple[str, str]]:
    yield command.name or "", command.help or ""
    for param in command.params:
        yield f"{command.name} {param.name}", getattr(param, "help", None) or ""
    for sub in getattr(command, "commands", {}).values():
        yield from every_help(sub)


def test_help_texts_lose_no_bracket_to_markup() -> None:
    """Typer reads help as Rich markup: a bracket must be escaped there to show."""
    for where, text in every_help(typer.main.get_command(app)):
        assert Text.from_markup(text).plain == text.replace("\\[", "["), where


def test_help_shows_the_spark_extra_with_its_brackets() -> None:
    result = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "'auditlog[spark]'" in result.output


def test_usage_errors_quote_a_hostile_value_literally() -> None:
    result = runner.invoke(app, ["findings", "--severity", "[bold]x[/]" + CLEAR],
                           env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "'[bold]x[/]\\x1b[2J' is not one of" in result.output and ESC not in result.output


def test_demo_and_generate_show_hostile_file_names_literally(tmp_path: Path) -> None:
    world = tmp_path / "world"
    assert runner.invoke(app, ["generate", "--out", str(world), "--customers", "150",
                               "--seed", "5", "--days", "21"]).exit_code == 0
    sources = json.loads((world / "sources.json").read_text(encoding="utf-8"))
    entry = next(e for e in sources if e["kind"] == "charges")
    old = world / entry["path"]
    hostile = old.with_name("[bold]x[red]" + CLEAR + old.name)
    old.rename(hostile)
    entry["path"] = str(hostile.relative_to(world))
    (world / "sources.json").write_text(json.dumps(sources), encoding="utf-8")
    output = cli("demo", "--world", str(world), "--db", str(tmp_path / "demo.duckdb"))
    assert_literal(output, entry["path"])
    assert "The answer" in output


def string_constants(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every str literal of a module but docstrings (which describe markup, never print it)."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in docstrings:
            yield node.lineno, node.value


def test_no_program_text_relies_on_rich_markup() -> None:
    """The consoles never read markup, so a '[bold]…[/]' in the program's own strings
    would print its tags: styles are (text, style) pieces of textsafe.terminal."""
    package = Path(auditlog.cli.__file__).parent.parent
    closing_tag = re.compile(r"\[/[a-z #]*\]")
    found = [f"{path.relative_to(package)}:{line}"
             for path in sorted(package.rglob("*.py"))
             for line, text in string_constants(ast.parse(path.read_text(encoding="utf-8")))
             if closing_tag.search(text)]
    assert found == []


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("stdout", "shown"), [(Terminal, "\\x1b[2J"), (io.StringIO, CLEAR)])
def test_csv_on_stdout_is_exact_when_piped_and_inert_on_a_terminal(
        monkeypatch: pytest.MonkeyPatch, stdout: type[io.StringIO], shown: str) -> None:
    out = stdout()
    monkeypatch.setattr(sys, "stdout", out)
    write_csv([{"actor": CLEAR, "note": "=1+1"}])
    assert out.getvalue() == f"actor,note\r\n{shown},'=1+1\r\n"
