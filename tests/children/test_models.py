"""Model-layer rules: identifiers, dates, involvements, names and keys."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from children.models import Child, ChildName, Involvement
from tests import factories

pytestmark = pytest.mark.django_db


def test_full_clean_refuses_a_bad_nhs_number_a_bad_upn_and_a_future_dob():
    child = factories.ChildFactory.build(
        local_authority=factories.LocalAuthorityFactory(), nhs_number="9434765918", upn="A801200001001",
        date_of_birth=timezone.localdate() + timedelta(days=3), postcode="NOT A POSTCODE",
    )
    with pytest.raises(ValidationError) as caught:
        child.full_clean()
    assert set(caught.value.message_dict) == {"nhs_number", "upn", "date_of_birth", "postcode"}


def test_a_valid_child_passes_full_clean_and_stores_normalised_identifiers():
    child = factories.ChildFactory(nhs_number="943 476 5919", upn="h801200001001", postcode="w69la")
    child.full_clean()
    child.refresh_from_db()
    assert (child.nhs_number, child.upn, child.postcode) == ("9434765919", "H801200001001", "W6 9LA")
    assert (child.postcode_district, child.postcode_sector) == ("W6", "W6 9")


def test_a_child_is_named_in_logs_by_its_reference_never_its_name():
    child = factories.ChildFactory(given_names="Zebedee", family_name="Quill")
    assert "Zebedee" not in str(child) and "Quill" not in str(child)
    assert child.reference in str(child)


def test_two_children_cannot_share_an_nhs_number():
    factories.ChildFactory(nhs_number="9434765919")
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.ChildFactory(nhs_number="9434765919")


def test_the_current_name_row_keeps_normalised_and_phonetic_keys_in_step():
    child = factories.ChildFactory(given_names="Kacper Jan", family_name="Kociński")
    row = ChildName.objects.get(child=child, kind=ChildName.Kind.CURRENT)
    assert (row.given_norm, row.family_norm) == ("kacper", "kocinski")
    assert row.family_phonetic and row.given_phonetic
    child.family_name = "O'Reilly"
    child.save()
    row.refresh_from_db()
    assert row.family_norm == "oreilly"
    assert ChildName.objects.filter(child=child, kind=ChildName.Kind.CURRENT).count() == 1


def test_an_involvement_cannot_end_before_it_starts():
    involvement = factories.InvolvementFactory.build(
        child=factories.ChildFactory(), organisation=factories.OrganisationFactory(),
        service=factories.ServiceFactory(), started_on=date(2024, 5, 1), ended_on=date(2024, 4, 30),
    )
    with pytest.raises(ValidationError, match="end date cannot be before"):
        involvement.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        involvement.save()  # the database refuses it too


def test_an_involvement_needs_a_contact_route():
    involvement = factories.InvolvementFactory.build(
        child=factories.ChildFactory(), organisation=factories.OrganisationFactory(),
        service=factories.ServiceFactory(), contact_phone="", contact_email="",
    )
    with pytest.raises(ValidationError, match="contact route"):
        involvement.full_clean()


def test_external_ids_are_unique_per_organisation_only():
    first = factories.InvolvementFactory(external_id="X1")
    factories.InvolvementFactory(external_id="X1")  # another organisation: fine
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.InvolvementFactory(external_id="X1", organisation=first.organisation)


def test_retention_date_defaults_to_last_activity_plus_the_retention_period(settings):
    child = factories.ChildFactory()
    assert child.retain_until == child.last_activity_at.date() + settings.RETENTION_PERIOD


def test_stale_children_exclude_those_with_an_open_involvement_or_a_legal_hold():
    today = timezone.localdate()
    past = today - timedelta(days=1)
    stale = factories.ChildFactory(retain_until=past)
    factories.ChildFactory(retain_until=past, legal_hold=True, legal_hold_reason="Serious case review")
    open_one = factories.ChildFactory(retain_until=past)
    factories.InvolvementFactory(child=open_one)
    closed = factories.ChildFactory(retain_until=past)
    factories.InvolvementFactory(child=closed, ended_on=date(2024, 6, 1))
    assert set(Child.objects.stale(today=today)) == {stale, closed}
    assert Involvement.objects.open().count() == 1
