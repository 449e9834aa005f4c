"""Every CSV export goes through here, so a cell can never run as a formula.

Excel and WPS treat a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return as a formula (``=HYPERLINK(...)`` leaks data, ``@cmd|...`` runs a
program). Such a text cell is prefixed with ``'``, which both show as plain text.
Plain numbers, negative ones included, are left alone: they cannot be formulas.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?%?")


def neutralise(value: object) -> str:
    """The cell's text, made inert when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_LEAD) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    """Rows as CSV with a UTF-8 BOM (so Excel opens Chinese text), every cell neutralised."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return out.getvalue()
