"""Text from logs is data: one function per output kind writes it so that it shows
literally and never acts. A log field or a file name may hold Rich markup (`[link=…]`),
ANSI/OSC sequences (`\\x1b[2J`, `\\x1b]8;;http://…`), HTML (`<img onerror=…>`) or
Markdown (`![x](http://…)`, `|`); each renderer passes such text through the function
of its kind and nothing else.

- `terminal`: Rich Text assembled from pieces, never parsed as markup;
- `markdown`: one value inside a Markdown document, table cells included;
- `html`: one value inside an HTML document (Jinja2's autoescape, plus the controls);
- `json_document`: a whole JSON document for stdout.

All of them show control characters escaped (`\\x1b`, `\\u202e`) through `visible`, so
no escape sequence reaches a terminal and no bidi override reorders what is read.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Self

from rich.style import StyleType
from rich.text import Text

if TYPE_CHECKING:  # only the HTML report needs it: a terminal command never loads it
    from markupsafe import Markup

# C0 controls, DEL, C1 controls (ESC, CSI 0x9b and OSC 0x9d among them), and the Unicode
# controls that reorder or break displayed text (bidi embeddings, overrides, isolates,
# marks; line and paragraph separators).
_UNICODE_CONTROLS = [0x061C, 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F),
                     *range(0x2066, 0x206A)]
_CONTROLS = [*range(0x20), 0x7F, *range(0x80, 0xA0), *_UNICODE_CONTROLS]


def _shown(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_ALL = {code: _shown(code) for code in _CONTROLS}
# Line breaks and tabs are layout in multi-line text the program writes (rule SQL,
# messages); they are not escape sequences, so a console may keep them.
_KEEP_LINES = {code: shown for code, shown in _ALL.items() if chr(code) not in "\n\t"}


def visible(text: str, *, keep_lines: bool = False) -> str:
    """`text` with every control character written out as `\\xNN` / `\\uNNNN`."""
    if text.isprintable():  # every control above is unprintable: the common case is quick
        return text
    return text.translate(_KEEP_LINES if keep_lines else _ALL)


TerminalPiece = str | Text | tuple[str, StyleType]


def terminal(*pieces: TerminalPiece) -> Text:
    """Rich Text from pieces, like `Text.assemble`: a str shown as written (controls
    written out), a (str, style) pair likewise in that style, a Text (made by this
    function) unchanged. No piece is ever
    parsed as markup, so there is no way to build a Text here that obeys a log field."""
    out = Text()
    for piece in pieces:
        if isinstance(piece, Text):
            out.append_text(piece)
        elif isinstance(piece, tuple):
            out.append(visible(piece[0]), style=piece[1])
        else:
            out.append(visible(piece))
    return out


# Backslash escapes for every character that starts Markdown syntax inline: links and
# images ([ ] ( ) !), code (`), emphasis and strikethrough (* ~), math ($), table cells
# (|), and the backslash itself. '<', '>' and '&' become entities, which no renderer
# turns back into a tag, an autolink or a blockquote.
_MARKDOWN = str.maketrans({
    **{c: "\\" + c for c in "\\[]()!`*~$|"},
    "<": "&lt;", ">": "&gt;", "&": "&amp;",
})
# '_' emphasizes only at a word's edge; inside a word (svc_orders) it stays as written.
_EDGE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
# What would open a heading, list, thematic break or blockquote at the start of a line.
_LEADING_MARK = "#+=-"
_LEADING_NUMBER = re.compile(r"\d+(?=[.)])")


def markdown(value: object) -> str:
    """One value for a Markdown document: shows literally in running text and in a GFM
    table cell (line breaks shown as \\x0a, so a value stays on its line)."""
    text = _EDGE_UNDERSCORE.sub(r"\\_", visible(str(value)).translate(_MARKDOWN))
    if text and text[0] in _LEADING_MARK:
        return "\\" + text
    number = _LEADING_NUMBER.match(text)
    return text if number is None else f"{number.group()}\\{text[number.end():]}"


def html(value: object) -> Markup:
    """One value for an HTML document: controls shown, then HTML-escaped. Markup the
    program built (already escaped) passes unchanged."""
    from markupsafe import Markup, escape

    if isinstance(value, Markup):
        return value
    return escape(visible(str(value), keep_lines=True))


# JSON escapes C0 controls itself; with ensure_ascii=False it leaves DEL, C1 and the
# Unicode controls raw, which a terminal may obey. Outside strings JSON is plain ASCII,
# so replacing them with \\u escapes anywhere in the text parses to the same values.
_JSON_RAW_CONTROLS = re.compile(
    "[" + "".join(f"\\u{c:04x}" for c in _CONTROLS if c >= 0x7F) + "]")


def json_document(document: Any) -> str:
    """`document` as indented JSON, non-ASCII text kept, every control escaped. A
    document with source records (a trace's `--records`) writes their numbers as the
    file did (`WrittenFloat`)."""
    if isinstance(document, dict) and document.get("source_records"):
        text = written_json(document, indent=2)
    else:
        text = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False)
    return _JSON_RAW_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# A verbatim source record shown as JSON keeps its numbers' digits: Python's parser
# reads `9.50`, `1e2` and `-0` as 9.5, 100.0 and 0, and would write them back so.


class WrittenFloat(float):
    """A JSON number with a fraction or an exponent: its value, and its text as written
    (`text`), which `written_json` writes back."""

    text: str

    def __new__(cls, text: str) -> Self:
        number = super().__new__(cls, text)
        number.text = text
        return number


class WrittenInt(int):
    """`-0`, which Python reads as 0: its text as written, as WrittenFloat."""

    text: str

    def __new__(cls, text: str) -> Self:
        number = super().__new__(cls, text)
        number.text = text
        return number


def _int(text: str) -> int:
    return WrittenInt(text) if text.startswith("-0") else int(text)


def loads_written(text: str) -> Any:
    """JSON text parsed, its numbers' written text kept (WrittenFloat, WrittenInt)."""
    return json.loads(text, parse_float=WrittenFloat, parse_int=_int)


def written_json(value: Any, *, indent: int | None = None) -> str:
    """`value` as JSON (non-ASCII text kept), a WrittenFloat or WrittenInt as its text.
    (json's own encoder writes a float subclass by float's repr; its Python encoder
    takes the functions that write numbers.)"""
    from json import encoder

    def floatstr(number: float) -> str:
        if isinstance(number, WrittenFloat):
            return number.text
        return encoder.JSONEncoder(allow_nan=True).encode(float(number))

    def intstr(number: int) -> str:
        return number.text if isinstance(number, WrittenInt) else int.__repr__(number)

    def default(thing: Any) -> Any:
        raise TypeError(f"Object of type {type(thing).__name__} is not JSON serializable")

    chunks = encoder._make_iterencode(  # type: ignore[attr-defined]
        {}, default, encoder.py_encode_basestring,
        None if indent is None else " " * indent, floatstr,
        ": ", "," if indent is not None else ", ",
        False, False, True, _intstr=intstr)
    return "".join(chunks(value, 0))
