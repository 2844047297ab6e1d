"""CSV downloads, streamed row by row and safe to open in a spreadsheet.

CSV injection: a spreadsheet runs a cell that starts with = + - @ (or a tab or carriage return) as a formula, so such a
text cell gets a leading apostrophe ("'=HYPERLINK(...)" shows as text). Plain numbers ("-12.5", "1E-8") are left as
they are: they are what a negative P&L looks like, and a spreadsheet reads them as numbers, never as formulas.
"""

import csv
import re
from collections.abc import Iterable, Iterator
from typing import Any

from django.http import StreamingHttpResponse

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?", re.ASCII)


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


class _Line:
    """A file-like object whose write() returns what it was given: csv.writer then formats one row at a time."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([safe_cell(cell) for cell in row])


def csv_response(filename: str, header: list[str], rows: Iterable[list[Any]]) -> StreamingHttpResponse:
    """A streamed text/csv attachment: the header row, then ``rows`` as they are produced (never all in memory)."""
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
