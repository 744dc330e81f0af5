"""Done-when for the matching engine, on the database the suite runs on (SQLite or PostgreSQL):
over a synthetic population, every exact query puts its child first, at least 98% of
mistyped queries put it in the top 5, and children who are not there never get a
confident answer. And no search reads a child or name table without an index."""

import collections
import re
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from children.matching import CONFIDENT, FUZZY, PLAIN, Query, match, search
from tests.children import corpus

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def population(django_db_setup, django_db_blocker):
    """2,000 children loaded once for the module, removed afterwards."""
    with django_db_blocker.unblock():
        from django.db import transaction

        from children.models import Child
        from practitioners.models import LocalAuthority

        people = corpus.population(2000, absent=80)
        with transaction.atomic():
            corpus.load(people)
        yield people
        Child.objects.all().delete()
        LocalAuthority.objects.all().delete()


@pytest.fixture(scope="module")
def cases(population, django_db_blocker):
    """(exact, variant, absent) cases, each with its ranked candidates: every query runs once."""
    with django_db_blocker.unblock():
        return tuple([(case, match(case.query)) for case in group]
                     for group in corpus.cases(population, targets=120))


def test_every_exact_query_puts_its_child_first(cases):
    exact, _, _ = cases
    wrong = [case.query.canonical() for case, found in exact if not found or found[0].child.reference != case.target]
    assert wrong == []


def test_mistyped_queries_find_the_child_in_the_top_five_at_least_98_percent_of_the_time(cases):
    _, variants, _ = cases
    misses = collections.Counter()
    for case, found in variants:
        if case.target not in [c.child.reference for c in found[:5]]:
            misses[case.kind] += 1
    kinds = collections.Counter(case.kind for case, _ in variants)
    assert len(variants) > 1000 and len(kinds) >= 15
    assert sum(misses.values()) / len(variants) <= 0.02, dict(misses)


def test_most_true_matches_with_one_slip_are_confident(cases):
    _, variants, _ = cases
    single = [(case, found) for case, found in variants if case.kind in {"given typo", "family typo", "swapped names", "dob slip",
                                                "short form", "day and month swapped", "previous family name",
                                                "one part of a double-barrelled name", "no accents or punctuation"}]
    confident = sum(1 for case, found in single for c in found
                    if c.child.reference == case.target and c.score >= CONFIDENT)
    assert confident / len(single) >= 0.9


def test_a_child_who_is_not_there_never_gets_a_confident_answer(cases):
    _, _, absent = cases
    assert len(absent) >= 200
    confident = [(case.kind, case.query.canonical()) for case, found in absent
                 if found and found[0].score >= CONFIDENT]
    assert confident == []


PLAN_QUERIES = [
    dict(given_name="Oliver", family_name="Smith", date_of_birth=date(2015, 3, 9), postcode="W6 9LA"),
    dict(given_name="Bill", family_name="Smyth", date_of_birth=date(2014, 9, 3)),
    dict(family_name="Kocinski", postcode="W6"),
    dict(given_name="Amelia", postcode="LS7 3QB"),
    dict(given_name="Jo", date_of_birth=date(2012, 1, 2)),
    dict(date_of_birth=date(2015, 3, 9), postcode="W6 9LA"),
    dict(given_name="Amelia", family_name="Khan", dob_from=date(2014, 1, 1), dob_to=date(2014, 12, 31)),
    dict(nhs_number="9434765919"),
]
SCAN = {
    "postgresql": re.compile(r"Seq Scan on (children_\w+)"),
    "sqlite": re.compile(r"\bSCAN (children_\w+)"),
}


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("EXPLAIN " + sql)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
        return "\n".join(" ".join(str(part) for part in row) for row in cursor.fetchall())


@pytest.mark.parametrize("fields", PLAN_QUERIES, ids=lambda f: "+".join(f))
@pytest.mark.parametrize("mode", [PLAIN, FUZZY])
def test_no_search_scans_a_child_or_name_table(population, fields, mode):
    """Every statement a search issues reaches the child and name tables through an index
    (EXPLAIN on PostgreSQL, EXPLAIN QUERY PLAN on SQLite), here over thousands of rows."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    with CaptureQueriesContext(connection) as issued:
        search(Query.of(**fields), mode=mode)
    statements = [q["sql"] for q in issued.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert statements
    scans = {sql[:120]: SCAN[connection.vendor].findall(_plan(sql)) for sql in statements}
    assert {sql: found for sql, found in scans.items() if found} == {}
