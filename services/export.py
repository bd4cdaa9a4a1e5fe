"""Tables staff export, rendered once for every domain.

A domain builds its header and rows from data it has already checked the viewer may see; this
module turns them into a file. Every cell goes through `safe_cell`, so text a user typed can
never become a spreadsheet formula (CSV/formula injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone

import xlsxwriter

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
BEIJING = timezone(timedelta(hours=8))


class Fen(int):
    """An amount in fen that a spreadsheet should show as a number of yuan with two decimals."""


def safe_cell(value) -> str:
    """A cell as text: times in ISO 8601, None empty, and a leading formula character quoted."""
    text = "" if value is None else value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def csv_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()


def xlsx_table(header: Sequence[str], rows: Iterable[Sequence[object]], *, sheet: str = "Sheet1") -> bytes:
    """One worksheet: amounts wrapped in `Fen` become numbers in yuan formatted with two
    decimals, times are written in Beijing time, other integers stay numbers, and all text goes
    through `safe_cell` and is written as text (never as a formula)."""
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False,
                                         "strings_to_numbers": False, "strings_to_urls": False})
    worksheet = workbook.add_worksheet(sheet[:31])
    bold = workbook.add_format({"bold": True})
    money = workbook.add_format({"num_format": "0.00"})
    when = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    for col, title in enumerate(header):
        worksheet.write_string(0, col, safe_cell(title), bold)
    for row_index, row in enumerate(rows, start=1):
        for col, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, Fen):
                # A float only for the cell's display value: the fen amount is exact below 2**53.
                worksheet.write_number(row_index, col, int(value) / 100, money)
            elif isinstance(value, datetime):
                local = value.astimezone(BEIJING).replace(tzinfo=None)
                worksheet.write_datetime(row_index, col, local, when)
            elif isinstance(value, int) and not isinstance(value, bool):
                worksheet.write_number(row_index, col, value)
            else:
                worksheet.write_string(row_index, col, safe_cell(value))
    workbook.close()
    return out.getvalue()
