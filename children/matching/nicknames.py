"""The shipped table of given-name short forms and variants (``nicknames.csv``).

Names on one line of the table count as the same given name: William, Bill and Liam.
Equivalence is one line deep, never chained across lines: Alex is on both the
Alexander and the Alexandra lines, which does not make Alexander and Alexandra one
name.
"""

from functools import cache
from pathlib import Path

from children import names

TABLE = Path(__file__).with_name("nicknames.csv")


@cache
def _groups() -> dict[str, frozenset[str]]:
    index: dict[str, set[str]] = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        group = {names.normalise(n) for n in line.split(",") if names.normalise(n)}
        for name in group:
            index.setdefault(name, set()).update(group)
    return {name: frozenset(group - {name}) for name, group in index.items()}


def equivalents(given: str) -> frozenset[str]:
    """Other forms of a normalised given name ('bill' -> {'william', 'liam', ...}); empty if none."""
    return _groups().get(given, frozenset())


def are_equivalent(a: str, b: str) -> bool:
    return a != b and b in equivalents(a)
