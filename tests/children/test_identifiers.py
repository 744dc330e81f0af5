"""Identifier rules: NHS number (Modulus 11), UPN (DfE check letter), postcodes, dates of birth."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from children import identifiers

digits = st.text(alphabet="0123456789", min_size=9, max_size=9)


@pytest.mark.parametrize("value", ["9434765919", "943 476 5919", "943-476-5919", "4010232137"])
def test_real_nhs_numbers_are_accepted(value):
    assert identifiers.is_valid_nhs_number(value)


@pytest.mark.parametrize("value", ["9434765918", "943476591", "94347659190", "94347659AB", "", "９４３４７６５９１９"])
def test_wrong_nhs_numbers_are_refused(value):
    assert not identifiers.is_valid_nhs_number(value)


@given(digits)
def test_every_nhs_number_with_its_check_digit_is_valid_and_every_other_last_digit_is_not(first_nine):
    check = identifiers.nhs_check_digit(first_nine)
    for last in range(10):
        assert identifiers.is_valid_nhs_number(f"{first_nine}{last}") is (last == check)


@given(digits, st.integers(0, 8), st.integers(1, 9))
def test_a_single_digit_typo_in_an_nhs_number_is_always_caught(first_nine, position, delta):
    check = identifiers.nhs_check_digit(first_nine)
    if check is None:
        return
    typo = list(first_nine)
    typo[position] = str((int(typo[position]) + delta) % 10)
    assert not identifiers.is_valid_nhs_number("".join(typo) + str(check))


def test_nine_digits_whose_check_would_be_ten_make_no_valid_nhs_number():
    # 10 is not a digit: such numbers are never issued.
    first_nine = next(f"{n:09d}" for n in range(10**8, 10**9) if identifiers.nhs_check_digit(f"{n:09d}") is None)
    assert not any(identifiers.is_valid_nhs_number(f"{first_nine}{d}") for d in range(10))


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_every_upn_with_its_check_letter_is_valid_and_no_other_letter_is(body):
    letter = identifiers.upn_check_letter(body)
    assert identifiers.is_valid_upn(letter + body)
    assert identifiers.is_valid_upn((letter + body).lower())
    for other in identifiers.UPN_LETTERS.replace(letter, ""):
        assert not identifiers.is_valid_upn(other + body)


def test_a_temporary_upn_ending_in_a_letter_is_checked_too():
    body = "80120000100A"
    assert identifiers.is_valid_upn(identifiers.upn_check_letter(body) + body)


@pytest.mark.parametrize("value", ["", "A80120000100", "I801200001001", "A80120000100I", "A8012000010O1", "A８01200001001"])
def test_malformed_upns_are_refused(value):
    assert not identifiers.is_valid_upn(value)


def test_the_check_letter_of_a_known_upn():
    # Weights 2..13 over 801200001001: 8*2 + 1*4 + 2*5 + 1*10 + 1*13 = 53; 53 % 23 = 7 -> H
    assert identifiers.upn_check_letter("801200001001") == "H"
    assert identifiers.is_valid_upn("H801200001001")
    assert not identifiers.is_valid_upn("G801200001001")


@pytest.mark.parametrize(
    "value, expected",
    [("sw1a1aa", "SW1A 1AA"), ("W6 9LA", "W6 9LA"), (" ls7  3qb ", "LS7 3QB"), ("EC1A 1BB", "EC1A 1BB"),
     ("M1 1AE", "M1 1AE"), ("B33 8TH", "B33 8TH"), ("CR2 6XH", "CR2 6XH"), ("DN55 1PT", "DN55 1PT")],
)
def test_uk_postcodes_are_normalised(value, expected):
    assert identifiers.normalise_postcode(value) == expected


@pytest.mark.parametrize("value", ["", "W6", "12345", "QQ1 1AA", "SW1A 1A", "SW1A1AAA", "W6 9CI"])
def test_things_that_are_not_postcodes_are_refused(value):
    assert identifiers.normalise_postcode(value) == ""
    with pytest.raises(ValidationError):
        identifiers.validate_postcode(value)


def test_postcode_district_and_sector():
    assert identifiers.postcode_district("SW1A 1AA") == "SW1A"
    assert identifiers.postcode_sector("SW1A 1AA") == "SW1A 1"


def test_a_date_of_birth_in_the_future_is_refused():
    with pytest.raises(ValidationError, match="today or in the past"):
        identifiers.validate_date_of_birth(timezone.localdate() + timedelta(days=1))
    identifiers.validate_date_of_birth(timezone.localdate())
    identifiers.validate_date_of_birth(date(2010, 5, 1))


def test_validators_explain_what_is_wrong():
    with pytest.raises(ValidationError, match="NHS number"):
        identifiers.validate_nhs_number("123")
    with pytest.raises(ValidationError, match="UPN"):
        identifiers.validate_upn("123")
