"""bench/generate.py writes what the app itself would: a tiny population, checked row by row
against the models' own derivations (``save()`` and ``derive_fields``), then searched."""

import importlib.util
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from django.db import connection

from children import identifiers
from children.matching import Query, search
from children.models import Address, Child, ChildName, Involvement, NameKey
from practitioners.models import ChildGroupObjectPermission, LocalAuthority

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the generator writes with PostgreSQL's COPY"),
]


def _generator():
    spec = importlib.util.spec_from_file_location("bench_generate", BENCH / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_generate"] = module
    spec.loader.exec_module(module)
    return module


def test_a_generated_population_is_what_the_app_itself_would_store():
    """One tiny run (generating is the slow part), then each property in its own check."""
    generator = _generator()
    result = generator.generate(children=300, seed=7, workers=1, chunk_size=120, progress=False,
                                audit_events=2_000, audit_months=3)
    the_access_log_is_chained_across_monthly_partitions(result)
    every_child_row_is_what_save_would_store(result)
    names_and_matching_keys_are_the_ones_the_models_derive()
    organisations_hold_access_exactly_where_they_have_an_open_involvement()
    the_population_spans_england_and_has_moves()
    indexes_come_back_and_the_engine_finds_a_generated_child()
    the_same_seed_writes_the_same_people(generator)


def every_child_row_is_what_save_would_store(result):
    assert result["rows"]["child"] == Child.objects.count() == 300
    for child in Child.objects.all():
        again = Child(**{f.attname: getattr(child, f.attname) for f in Child._meta.concrete_fields})
        again.derive_fields()
        assert (again.postcode_district, again.postcode_sector, again.nhs_number, again.upn) == (
            child.postcode_district, child.postcode_sector, child.nhs_number, child.upn)
        assert identifiers.is_valid_nhs_number(child.nhs_number)
        assert child.upn is None or identifiers.is_valid_upn(child.upn)
        assert identifiers.normalise_postcode(child.postcode) == child.postcode
        assert 0 <= (date.today() - child.date_of_birth).days <= 18 * 365 + 4


def names_and_matching_keys_are_the_ones_the_models_derive():
    for name in ChildName.objects.select_related("child"):
        again = ChildName(child=name.child, kind=name.kind, given_names=name.given_names, family_name=name.family_name)
        again.derive_fields()
        assert (again.given_norm, again.family_norm, again.given_phonetic, again.family_phonetic) == (
            name.given_norm, name.family_norm, name.given_phonetic, name.family_phonetic)
        expected = Counter((k.given_norm, k.family_norm, k.given_key, k.family_key, k.date_of_birth,
                            k.postcode_district) for k in NameKey.rows_for(name, name.child))
        stored = Counter(NameKey.objects.filter(name=name).values_list(
            "given_norm", "family_norm", "given_key", "family_key", "date_of_birth", "postcode_district"))
        assert stored == expected
    assert ChildName.objects.filter(kind="current").count() == 300


def organisations_hold_access_exactly_where_they_have_an_open_involvement():
    open_pairs = set(Involvement.objects.filter(ended_on__isnull=True).values_list(
        "organisation__access_group_id", "child_id"))
    granted = set(ChildGroupObjectPermission.objects.values_list("group_id", "content_object_id"))
    assert granted == open_pairs and granted
    per_child = Counter(Involvement.objects.values_list("child_id", flat=True))
    assert max(per_child.values()) <= 5


def the_population_spans_england_and_has_moves():
    assert LocalAuthority.objects.count() >= 153
    assert Child.objects.values("local_authority").distinct().count() > 50
    moved = Address.objects.filter(moved_out_on__isnull=False).values_list("child_id", flat=True)
    assert moved, "some children moved between areas"
    assert Involvement.objects.filter(child__in=list(moved), ended_on__isnull=False).exists()


def indexes_come_back_and_the_engine_finds_a_generated_child():
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_generate_ddl')")
        assert cursor.fetchone()[0] is None, "the saved index definitions are all rebuilt"
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'children_namekey'")
        assert cursor.fetchone()[0] >= 7
    child = Child.objects.filter(shielded=False).order_by("pk")[10]
    found = search(Query.of(given_name=child.given_names.split()[0], family_name=child.family_name,
                            date_of_birth=child.date_of_birth))
    assert child.pk in [c.child.pk for c in found.candidates[:5]]


def the_same_seed_writes_the_same_people(generator):
    first = list(Child.objects.order_by("pk").values_list("given_names", "family_name", "date_of_birth", "postcode"))
    Child.objects.all().delete()
    generator.generate(children=300, seed=7, workers=1, chunk_size=120, progress=False)
    again = list(Child.objects.order_by("pk").values_list("given_names", "family_name", "date_of_birth", "postcode"))
    assert again == first


def the_access_log_is_chained_across_monthly_partitions(result):
    from audit import integrity
    from audit.models import AccessEvent

    assert result["audit_events"] == AccessEvent.objects.count() == 2_000
    report = integrity.verify()
    assert report.ok, report.first_break()
    months = {d.strftime("%Y-%m") for d in AccessEvent.objects.values_list("occurred_at", flat=True)}
    assert len(months) >= 3
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_accessevent_default")
        assert cursor.fetchone()[0] == 0, "every event landed in its month's partition"
        cursor.execute("SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                       "WHERE c.relname LIKE 'auditevent_%%' AND NOT i.indisvalid")
        assert cursor.fetchone()[0] == 0, "the access log's indexes are rebuilt on every partition"
    named = AccessEvent.objects.exclude(child_ref="").values_list("child_ref", flat=True)[:50]
    assert named and set(named) <= set(Child.objects.values_list("reference", flat=True))
