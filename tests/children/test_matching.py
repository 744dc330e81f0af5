"""The matching engine as a searcher experiences it: what is found, in what order, and why."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from children.matching import CONFIDENT, FUZZY, PLAIN, POSSIBLE, Query, match, search
from children.matching import dates, nicknames
from children.models import Address, ChildName, NameKey
from tests import factories

pytestmark = pytest.mark.django_db

DOB = date(2015, 3, 9)


def child(**kwargs):
    kwargs.setdefault("date_of_birth", DOB)
    kwargs.setdefault("postcode", "W6 9LA")
    return factories.ChildFactory(**kwargs)


def refs(candidates):
    return [c.child.reference for c in candidates]


def test_an_exact_query_scores_one_and_comes_first_from_the_plain_stage():
    target = child(given_names="William", family_name="Smith")
    child(given_names="Willa", family_name="Smith")
    outcome = search(Query.of(given_name="William", family_name="Smith", date_of_birth=DOB, postcode="W6 9LA"))
    assert outcome.mode == PLAIN
    assert outcome.candidates[0].child == target
    assert outcome.candidates[0].score == 1.0
    assert outcome.candidates[0].band == "confident"


def test_the_fuzzy_stage_runs_only_when_the_plain_one_finds_nothing_or_is_asked_for():
    target = child(given_names="William", family_name="Smith")
    assert search(Query.of(given_name="William", family_name="Smith", date_of_birth=DOB)).mode == PLAIN
    fuzzy = search(Query.of(given_name="Bill", family_name="Smyth", date_of_birth=DOB))
    assert fuzzy.mode == FUZZY and refs(fuzzy.candidates) == [target.reference]
    assert search(Query.of(given_name="William", family_name="Smith", date_of_birth=DOB), mode=FUZZY).mode == FUZZY


@pytest.mark.parametrize("given, stored", [("Bill", "William"), ("Liam", "William"), ("Lizzie", "Elizabeth"),
                                           ("Beth", "Elizabeth"), ("Elizabeth", "Beth")])
def test_short_forms_from_the_shipped_table_find_the_child_a_little_below_exact(given, stored):
    target = child(given_names=stored, family_name="Okafor")
    [found] = match(Query.of(given_name=given, family_name="Okafor", date_of_birth=DOB))
    assert found.child == target and CONFIDENT <= found.score < 1.0
    assert "given name is a short form or variant" in found.reasons


def test_the_nickname_table_never_chains_across_lines():
    assert "alex" in nicknames.equivalents("alexander") and "alex" in nicknames.equivalents("alexandra")
    assert not nicknames.are_equivalent("alexander", "alexandra")


def test_swapped_given_and_family_names_are_found_and_say_so():
    target = child(given_names="Kacper", family_name="Nowak")
    [found] = match(Query.of(given_name="Nowak", family_name="Kacper", date_of_birth=DOB))
    assert found.child == target and found.score >= CONFIDENT
    assert "given and family names swapped" in found.reasons


def test_either_part_of_a_double_barrelled_name_finds_the_child_and_accents_do_not_matter():
    target = child(given_names="Zoë", family_name="Smith-Kociński")
    for family in ("Smith", "Kocinski", "SMITH KOCINSKI", "smith-kocinski"):
        found = match(Query.of(given_name="Zoe", family_name=family, date_of_birth=DOB))
        assert refs(found)[:1] == [target.reference], family
        assert found[0].score >= CONFIDENT


def test_a_previous_name_finds_the_child():
    target = child(given_names="Amelia", family_name="Trelawny")
    ChildName.objects.create(child=target, kind=ChildName.Kind.PREVIOUS, given_names="Amelia", family_name="Penrose")
    [found] = match(Query.of(given_name="Amelia", family_name="Penrose", date_of_birth=DOB))
    assert found.child == target and "matched a previous name" in found.reasons


def test_a_day_month_swap_counts_only_when_the_day_could_be_a_month():
    assert dates.swapped(date(2015, 3, 9)) == date(2015, 9, 3)
    assert dates.swapped(date(2015, 3, 19)) is None
    target = child(given_names="Maja", family_name="Wójcik", date_of_birth=date(2015, 3, 9))
    [found] = match(Query.of(given_name="Maja", family_name="Wojcik", date_of_birth=date(2015, 9, 3)))
    assert found.child == target and "date of birth has day and month swapped" in found.reasons


def test_a_one_digit_slip_in_the_date_of_birth_is_found_but_scores_below_exact():
    target = child(given_names="Ngozi", family_name="Adeyemi")
    exact = match(Query.of(given_name="Ngozi", family_name="Adeyemi", date_of_birth=DOB))[0]
    slipped = match(Query.of(given_name="Ngozi", family_name="Adeyemi", date_of_birth=date(2015, 3, 8)))[0]
    year = match(Query.of(given_name="Ngozi", family_name="Adeyemi", date_of_birth=date(2016, 3, 9)))[0]
    assert exact.child == slipped.child == year.child == target
    assert exact.score > slipped.score >= CONFIDENT
    assert "date of birth differs by one digit" in slipped.reasons


def test_a_date_of_birth_range_search_finds_children_born_within_it():
    target = child(given_names="Yusuf", family_name="Hussain")
    found = match(Query.of(given_name="Yusuf", family_name="Hussain", dob_from=date(2015, 1, 1),
                           dob_to=date(2015, 12, 31)))
    assert refs(found) == [target.reference]
    assert match(Query.of(given_name="Yusuf", family_name="Hussain", dob_from=date(2016, 1, 1),
                          dob_to=date(2016, 12, 31))) == []


@pytest.mark.parametrize("postcode, reason", [("W6 9LA", "postcode matches"), ("W6 9", "postcode sector matches"),
                                               ("W6", "postcode district matches"),
                                               ("W6 9ZZ", "same postcode sector")])
def test_a_full_postcode_its_sector_or_its_district_all_count(postcode, reason):
    target = child(given_names="Aoife", family_name="Byrne")
    [found] = match(Query.of(given_name="Aoife", family_name="Byrne", date_of_birth=DOB, postcode=postcode))
    assert found.child == target and reason in found.reasons


def test_an_old_postcode_from_the_address_history_still_counts():
    target = child(given_names="Chidi", family_name="Okonkwo", postcode="LS7 3QB")
    Address.objects.create(child=target, postcode="W12 7RJ", local_authority=target.local_authority,
                           moved_in_on=date(2019, 1, 1), moved_out_on=date(2023, 1, 1))
    [found] = match(Query.of(given_name="Chidi", family_name="Okonkwo", date_of_birth=DOB, postcode="W12 7RJ"))
    assert "postcode of a previous address" in found.reasons and found.score >= CONFIDENT


def test_an_nhs_number_alone_finds_the_child_with_full_confidence():
    target = child(given_names="Seán", family_name="Walsh")
    [found] = match(Query.of(nhs_number=target.nhs_number))
    assert found.child == target and found.score >= 0.999 and found.reasons == ("NHS number matches",)


def test_twins_are_told_apart_by_their_given_names():
    olivia = child(given_names="Olivia", family_name="Green")
    oliver = child(given_names="Oliver", family_name="Green")
    found = match(Query.of(given_name="Olivia", family_name="Green", date_of_birth=DOB, postcode="W6 9LA"))
    assert refs(found)[0] == olivia.reference
    other = {c.child: c.score for c in found}.get(oliver)
    assert other is None or other < CONFIDENT


def test_without_a_date_of_birth_a_name_match_is_only_ever_possible():
    target = child(given_names="Priya", family_name="Patel")
    [found] = match(Query.of(given_name="Priya", family_name="Patel", postcode="W6"))
    assert found.child == target and POSSIBLE <= found.score < CONFIDENT


def test_a_different_child_with_a_shared_name_is_not_shown():
    child(given_names="Jack", family_name="Taylor", date_of_birth=date(2010, 6, 30), postcode="TR1 2HE")
    assert match(Query.of(given_name="Jack", family_name="Taylor", date_of_birth=date(2016, 11, 2),
                          postcode="W6 9LA")) == []


def test_a_search_with_a_postcode_never_returns_a_shielded_child():
    hidden = child(given_names="Amelia", family_name="Trelawny", shielded=True, postcode="TR1 2HE")
    for postcode in ("TR1 2HE", "TR1", "W6"):
        assert match(Query.of(given_name="Amelia", family_name="Trelawny", date_of_birth=DOB, postcode=postcode)) == []
    [found] = match(Query.of(given_name="Amelia", family_name="Trelawny", date_of_birth=DOB))
    assert found.child == hidden
    assert not any("postcode" in reason for reason in found.reasons)


def test_a_feed_that_knows_the_address_matches_a_shielded_child_on_everything_but_their_location():
    hidden = child(given_names="Amelia", family_name="Trelawny", shielded=True, postcode="TR1 2HE")
    for postcode in ("TR1 2HE", "W6 9LA"):  # where they live, or anywhere else: the same answer
        [found] = match(Query.of(given_name="Amelia", family_name="Trelawny", date_of_birth=DOB, postcode=postcode),
                        mode=FUZZY, shielded_unlocated=True)
        assert found.child == hidden and found.score == 1.0
        assert not any("postcode" in reason for reason in found.reasons)


def test_a_shielded_child_has_no_district_in_the_name_keys():
    hidden = child(given_names="Amelia", family_name="Trelawny", shielded=True, postcode="TR1 2HE")
    assert set(NameKey.objects.filter(child=hidden).values_list("postcode_district", flat=True)) == {""}
    hidden.shielded = False
    hidden.save()
    assert set(NameKey.objects.filter(child=hidden).values_list("postcode_district", flat=True)) == {"TR1"}


def test_more_matches_than_the_cap_lists_the_best_and_asks_for_more_detail(settings):
    settings.SEARCH_RESULT_CAP = 3
    for n in range(4):
        child(given_names="Harry", family_name="Jones", date_of_birth=DOB + timedelta(days=n * 400))
    outcome = search(Query.of(given_name="Harry", family_name="Jones", postcode="W6"))
    assert outcome.too_many and len(outcome.candidates) == 3 and outcome.matched == 4
    assert len(search(Query.of(given_name="Harry", family_name="Jones", postcode="W6"), cap=None).candidates) == 4


def test_merged_records_are_never_returned():
    merged = child(given_names="Ruby", family_name="Evans", status="merged")
    assert merged.reference not in refs(match(Query.of(given_name="Ruby", family_name="Evans", date_of_birth=DOB)))


def test_keys_follow_a_change_of_name_date_of_birth_and_address():
    target = child(given_names="Ella", family_name="Moss")
    target.family_name, target.date_of_birth, target.postcode = "Moss-Hart", date(2014, 1, 2), "LS7 3QB"
    target.save()
    assert refs(match(Query.of(given_name="Ella", family_name="Hart", date_of_birth=date(2014, 1, 2),
                               postcode="LS7"))) == [target.reference]
    assert match(Query.of(given_name="Ella", family_name="Moss", date_of_birth=DOB, postcode="W6")) == []


def test_dob_slips_are_real_dates_and_never_in_the_future():
    today = timezone.localdate()
    for value in dates.variants(date(2015, 3, 9), today=today):
        assert value <= today
    assert date(2015, 3, 8) in dates.slips(date(2015, 3, 9))
    assert date(2015, 3, 19) in dates.slips(date(2015, 3, 9))
    assert date(2015, 3, 31) in dates.slips(date(2015, 3, 13))  # neighbouring digits swapped
