"""Identifier and address rules: NHS number, UPN, UK postcode, dates of birth.

Each ``is_valid_*`` is a pure predicate; the ``validate_*`` wrappers raise Django's
``ValidationError`` with a message a practitioner can act on. Digits are matched
with ASCII-only patterns first: Python's ``int()`` accepts "９" (SPEC 8).
"""

import re
from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone

_NHS_RE = re.compile(r"[0-9]{10}\Z")
_UPN_RE = re.compile(r"[A-HJ-NP-RT-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]\Z")
# DfE's check-letter alphabet: 23 letters, no I, O or S.
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_POSTCODE_RE = re.compile(
    r"(GIR ?0AA|[A-PR-UWYZ](?:[0-9]{1,2}|[A-HK-Y][0-9]{1,2}|[0-9][A-HJKPS-UW]|[A-HK-Y][0-9][ABEHMNPRV-Y]) ?[0-9][ABD-HJLNP-UW-Z]{2})\Z"
)


def clean_nhs_number(value: str) -> str:
    """Strip the spaces and hyphens people type ("943 476 5919")."""
    return re.sub(r"[\s-]", "", value or "")


def nhs_check_digit(first_nine: str) -> int | None:
    """Modulus 11 check digit for nine ASCII digits; None when no digit is valid (10)."""
    total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1)))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def is_valid_nhs_number(value: str) -> bool:
    value = clean_nhs_number(value)
    if not _NHS_RE.match(value):
        return False
    return nhs_check_digit(value[:9]) == int(value[9])


def upn_check_letter(last_twelve: str) -> str:
    """The DfE check letter for characters 2-13 of a UPN.

    Each character is weighted by its position (2..13); a letter (position 13 of a
    temporary UPN) counts as its index in the check alphabet. Sum mod 23 picks the letter.
    """
    total = 0
    for position, char in enumerate(last_twelve, start=2):
        value = int(char) if char.isdigit() else UPN_LETTERS.index(char)
        total += value * position
    return UPN_LETTERS[total % 23]


def is_valid_upn(value: str) -> bool:
    value = (value or "").strip().upper()
    if not _UPN_RE.match(value):
        return False
    return upn_check_letter(value[1:]) == value[0]


def normalise_postcode(value: str) -> str:
    """'sw1a1aa' -> 'SW1A 1AA'; returns '' when it is not a UK postcode."""
    compact = re.sub(r"\s+", "", (value or "").upper())
    if not _POSTCODE_RE.match(compact) or len(compact) < 5:
        return ""
    return f"{compact[:-3]} {compact[-3:]}"


def postcode_district(postcode: str) -> str:
    """Outward code: 'SW1A 1AA' -> 'SW1A'."""
    return postcode.split(" ")[0] if postcode else ""


def postcode_sector(postcode: str) -> str:
    """Outward code and the first inward digit: 'SW1A 1AA' -> 'SW1A 1'."""
    return postcode[:-2] if postcode else ""


def validate_nhs_number(value):
    if not is_valid_nhs_number(value):
        raise ValidationError(
            "Enter a valid NHS number: 10 digits, like 943 476 5919 (the last digit is a check digit).",
            code="invalid_nhs_number",
        )


def validate_upn(value):
    if not is_valid_upn(value):
        raise ValidationError(
            "Enter a valid UPN: 13 characters, a check letter then 12 digits (the last may be a letter).",
            code="invalid_upn",
        )


def validate_postcode(value):
    if not normalise_postcode(value):
        raise ValidationError("Enter a real UK postcode, like SW1A 1AA.", code="invalid_postcode")


def validate_date_of_birth(value: date):
    if value > timezone.localdate():
        raise ValidationError("Date of birth must be today or in the past.", code="future_dob")
    if value.year < 1900:
        raise ValidationError("Date of birth must be after 1900.", code="ancient_dob")


_DISTRICT_RE = re.compile(r"(?:[A-PR-UWYZ][0-9]{1,2}|[A-PR-UWYZ][A-HK-Y][0-9]{1,2}|[A-PR-UWYZ][0-9][A-HJKPS-UW]|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRV-Y])\Z")


def parse_search_postcode(value: str) -> tuple[str, str]:
    """A postcode as a searcher may give it: ('full', 'W6 9LA'), ('sector', 'W6 9') or
    ('district', 'W6'); ('', '') when it is none of these."""
    full = normalise_postcode(value)
    if full:
        return "full", full
    compact = re.sub(r"\s+", " ", (value or "").upper()).strip()
    district, _, rest = compact.partition(" ")
    if not _DISTRICT_RE.match(district):
        return "", ""
    if not rest:
        return "district", district
    if re.fullmatch(r"[0-9]", rest):
        return "sector", f"{district} {rest}"
    return "", ""
