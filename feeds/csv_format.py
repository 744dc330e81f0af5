"""The CSV template for organisations without an integration: columns, reading, writing.

Rows read from a file go through the same row serializer as the API. Cells we
write back out (the template, the error report) are escaped against formula
injection (SPEC 8): a cell starting with = + - @ (or a tab / carriage return) is
prefixed with a single quote so a spreadsheet shows it as text.
"""

import csv
import io
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    description: str
    example: str


COLUMNS = (
    Column("external_id", True, "Your system's own reference for this involvement. Unique within your "
           "organisation: sending the same reference again updates that involvement.", "MIS-000123"),
    Column("given_names", True, "The child's given name(s).", "Amelia Rose"),
    Column("family_name", True, "The child's family name.", "Kociński"),
    Column("date_of_birth", True, "As YYYY-MM-DD or DD/MM/YYYY.", "2015-03-27"),
    Column("sex", False, "F, M, X (other) or U (not known). Empty means not known.", "F"),
    Column("nhs_number", False, "10 digits; spaces allowed. Matches the child exactly when known.", "943 476 5919"),
    Column("upn", False, "Unique pupil number: 13 characters. Matches the child exactly when known.", ""),
    Column("address_line", False, "First line of the child's address.", "1 Example Road"),
    Column("postcode", False, "The child's postcode.", "W6 9LA"),
    Column("service", True, "The code of the service you deliver to the child (listed on the upload page).",
           "school-nursing"),
    Column("started_on", True, "When your involvement started: YYYY-MM-DD or DD/MM/YYYY.", "2024-09-02"),
    Column("ended_on", False, "When it ended; empty while it is open.", ""),
    Column("contact_phone", False, "The team's work phone. If both contact columns are empty, your "
           "organisation's contact details are used.", "020 7946 0000"),
    Column("contact_email", False, "The team's work email.", "school.nurses@example.org"),
)
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
REQUIRED = tuple(c.name for c in COLUMNS if c.required)
_DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r")


class FileProblem(Exception):
    """The file as a whole cannot be read (encoding, header, size): nothing per line to show."""


def safe_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_DANGEROUS_START) else text


def write_rows(header, rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()


def template() -> str:
    return write_rows(COLUMN_NAMES, [[c.example for c in COLUMNS]])


def read(content: bytes) -> list[tuple[int, dict]]:
    """(line number, row) for every non-empty line; raises FileProblem for the file as a whole."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileProblem("The file is not UTF-8 text. In your spreadsheet, save it as 'CSV UTF-8' and upload "
                          "it again.") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
        while not any(h.strip() for h in header):  # blank lines before the header
            header = next(reader)
    except StopIteration:
        raise FileProblem("The file is empty.") from None
    except csv.Error as exc:
        raise FileProblem(f"The first line could not be read as CSV ({exc}).") from None
    header = [h.strip().lower() for h in header]
    missing = [name for name in REQUIRED if name not in header]
    unknown = [h for h in header if h and h not in COLUMN_NAMES]
    if missing or unknown:
        problems = []
        if missing:
            problems.append("missing column(s): " + ", ".join(missing))
        if unknown:
            problems.append("unknown column(s): " + ", ".join(safe_cell(u)[:40] for u in unknown[:10]))
        raise FileProblem("The first line must name the template's columns; " + "; ".join(problems) + ".")
    if len(set(header)) != len(header):
        raise FileProblem("The first line names a column more than once.")
    rows = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= settings.FEED_CSV_MAX_ROWS:
                raise FileProblem(f"The file has more than {settings.FEED_CSV_MAX_ROWS:,} rows; split it into "
                                  "smaller files.")
            # An empty optional cell is an absent value, as if the column were not there.
            row = {name: value.strip() for name, value in zip(header, cells)
                   if name and (value.strip() or name in REQUIRED)}
            if len(cells) > len(header):
                row["__extra__"] = True
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise FileProblem(f"Line {reader.line_num} could not be read as CSV ({exc}).") from None
    if not rows:
        raise FileProblem("The file has a header but no rows.")
    return rows
