"""Dates of birth as people mistype them (SPEC 3.7).

A day/month swap only counts when both could be a month (day <= 12); a slip is one
digit of DDMMYYYY typed wrong, or two neighbouring digits of the day, month or year
swapped ("13" for "31").
"""

from datetime import date
from enum import Enum
from functools import lru_cache


class DobAgreement(Enum):
    EXACT = "exact"
    IN_RANGE = "in the range given"
    SWAPPED = "day and month swapped"
    SLIP = "one digit different"
    SAME_MONTH = "same month and year"
    SAME_YEAR = "same year"
    DIFFERENT = "different"


def _digits(value: date) -> str:
    return f"{value.day:02d}{value.month:02d}{value.year:04d}"


def _parse(digits: str) -> date | None:
    try:
        return date(int(digits[4:]), int(digits[2:4]), int(digits[:2]))
    except ValueError:
        return None


def swapped(value: date) -> date | None:
    """The date with day and month exchanged, when the day could be a month and differs from it."""
    if value.day > 12 or value.day == value.month:
        return None
    return date(value.year, value.day, value.month)


@lru_cache(maxsize=4096)
def slips(value: date) -> frozenset[date]:
    """Every real date one typing slip away: one digit changed, or neighbouring digits swapped."""
    digits = _digits(value)
    found = set()
    for position, original in enumerate(digits):
        for replacement in "0123456789":
            if replacement != original:
                found.add(_parse(digits[:position] + replacement + digits[position + 1:]))
    for start, end in ((0, 2), (2, 4), (4, 8)):
        for position in range(start, end - 1):
            chars = list(digits)
            chars[position], chars[position + 1] = chars[position + 1], chars[position]
            found.add(_parse("".join(chars)))
    found.discard(None)
    found.discard(value)
    return frozenset(found)


def variants(value: date, *, today: date) -> set[date]:
    """The date itself, its swap and its slips: the dates a fuzzy search looks under."""
    found = {value, *slips(value)}
    swap = swapped(value)
    if swap:
        found.add(swap)
    return {d for d in found if date(1900, 1, 1) <= d <= today}


def compare(query: date, stored: date) -> DobAgreement:
    if query == stored:
        return DobAgreement.EXACT
    if swapped(query) == stored:
        return DobAgreement.SWAPPED
    if stored in slips(query):
        return DobAgreement.SLIP
    if (query.year, query.month) == (stored.year, stored.month):
        return DobAgreement.SAME_MONTH
    if query.year == stored.year:
        return DobAgreement.SAME_YEAR
    return DobAgreement.DIFFERENT
