"""Values as cells, and the one defence against formula injection.

A spreadsheet runs a text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
return as a formula (OWASP "CSV Injection"). Such text gets a leading single quote, so it
stays readable and is never executed. A plain decimal number (`-4.99`) is left alone: a
spreadsheet reads it as a number, never as a formula, and amounts must stay exact.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from auditlog.values import decimal_text, iso_utc

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def neutralize(text: str) -> str:
    """`text`, with a leading quote when a spreadsheet would run it as a formula."""
    if text.startswith(FORMULA_TRIGGERS) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def cell_text(value: Any) -> str:
    """A value as the text of one cell: lists joined by `;`, booleans as true/false,
    instants as ISO 8601 UTC with Z, amounts as exact decimals, missing as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ";".join(cell_text(v) for v in value)
    if isinstance(value, datetime):
        return iso_utc(value) or ""
    if isinstance(value, Decimal):
        return decimal_text(value) or ""
    return str(value)


def safe_cell_text(value: Any) -> str:
    """cell_text, neutralized when the value is text a spreadsheet could execute."""
    text = cell_text(value)
    return neutralize(text) if isinstance(value, str | list | tuple) else text
