"""Reach: the bound that lets ranking skip children who cannot be listed, checked against
``scoring.scored`` itself; and the ingest path (``match_within_reach``) against the full fuzzy stage.

Generated near-misses (typos, sound-alikes, short forms, swapped or double-barrelled names, earlier
names, date-of-birth slips and swaps, the same month or year, identifiers that agree or differ) sit
around the bands' edges, where an unsound bound would show."""

import collections
import dataclasses
import random
from datetime import date, timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from children.matching import FUZZY, Query, blocking, dates, match, match_within_reach, scoring
from children.matching.engine import name_frequencies
from children.models import Child
from practitioners.models import LocalAuthority
from tests import factories
from tests.children import corpus
from tests.children.test_matching_corpus import SCAN, _plan

GIVEN = ["Amelia", "Oliver", "William", "Elizabeth", "Mary Ann", "Zoë", "Mohammed", "Jo", "Alexander", "Siobhán"]
FAMILY = ["Smith", "Kociński", "Smith-Jones", "O'Brien", "Adeyemi", "Nguyen", "Van der Berg", "Okafor", "Lee"]
POSTCODES = ["W6 9LA", "W6 9LB", "W6 1AA", "W12 7RJ", "LS6 2AB", ""]


def _mutated(rng: random.Random, value: str, pool: list[str]) -> str:
    """The name as someone else may have recorded it."""
    how = rng.choice(["same", "same", "typo", "sound", "short", "part", "prefix", "other", "initial"])
    if how == "typo":
        return corpus.typo(rng, value)
    if how == "sound":
        return corpus.sound_alike(rng, value)
    if how == "short":
        return corpus.short_form(rng, value) or value
    if how == "part":
        return rng.choice(value.replace("-", " ").split())
    if how == "prefix":
        return value[:max(3, len(value) - 2)]
    if how == "other":
        return rng.choice(pool)
    if how == "initial":
        return value[0]
    return value


def _near(rng: random.Random, dob: date) -> date:
    """A stored date of birth near the query's, in each way the scorer tells apart."""
    how = rng.choice(["same", "swap", "slip", "month", "year", "other"])
    if how == "swap" and dates.swapped(dob):
        return dates.swapped(dob)
    if how == "slip":
        return rng.choice(sorted(dates.slips(dob)))
    if how == "month":
        return dob.replace(day=rng.randint(1, 28))
    if how == "year":
        return date(dob.year, rng.randint(1, 12), rng.randint(1, 28))
    if how == "other":
        return dob + timedelta(days=rng.randint(-4000, 4000))
    return dob


def _pair(seed: int) -> tuple[Query, scoring.StoredChild]:
    """A query and a stored child, the child built from the query by a few random slips."""
    rng = random.Random(seed)
    given_name, family_name = rng.choice(GIVEN), rng.choice(FAMILY)
    dob = date(2000, 1, 1) + timedelta(days=rng.randint(0, 9000))
    query = Query.of(given_name=given_name, family_name=family_name, date_of_birth=dob, postcode=rng.choice(POSTCODES),
                     sex=rng.choice("FMU"), nhs_number=rng.choice(["", "", "9434765919"]),
                     upn=rng.choice(["", "", "A123456789012"]))
    names = []
    for kind in rng.sample(["current", "previous", "other"], rng.randint(0, 3)):
        given, family = _mutated(rng, given_name, GIVEN), _mutated(rng, family_name, FAMILY)
        if rng.random() < 0.1:
            given, family = family, given  # recorded the wrong way round
        names.append(scoring.StoredName.of(kind, "" if rng.random() < 0.05 else given, family))
    child = scoring.StoredChild(
        date_of_birth=_near(rng, dob), sex=rng.choice("FMUX"),
        nhs_number=rng.choice(["", "9434765919", "4010232137"]), upn=rng.choice(["", "A123456789012", "B999999999999"]),
        postcode=rng.choice(POSTCODES), previous_postcodes=tuple(rng.sample(POSTCODES[:-1], rng.randint(0, 2))),
        names=tuple(names),
    )
    return query, child


@pytest.mark.parametrize("floor", [0.001, 0.05, 0.3, 0.8])
def test_what_ranking_skips_could_never_have_been_listed(floor, monkeypatch):
    """With any floor the weights file may set, a child ``out_of_reach`` skips scores below it."""
    monkeypatch.setattr(scoring, "POSSIBLE", floor)
    remaining = {}
    for seed in range(4000):
        query, child = _pair(seed)
        key = query.canonical()
        remaining.setdefault(key, scoring.best_remaining(query))
        bare = dataclasses.replace(child, names=(), postcode="", previous_postcodes=())
        if scoring.out_of_reach(query, bare, remaining[key]):
            value, comparison = scoring.scored(query, child)
            assert comparison.probability < floor, (key, comparison.reasons)


def test_a_child_holding_another_identifier_is_never_listed():
    query = Query.of(given_name="Amelia", family_name="Smith", date_of_birth=date(2015, 3, 9),
                     nhs_number="9434765919")
    child = scoring.StoredChild(date_of_birth=date(2015, 3, 9), sex="F", nhs_number="4010232137", upn="",
                                postcode="", previous_postcodes=(),
                                names=(scoring.StoredName.of("current", "Amelia", "Smith"),))
    value, comparison = scoring.scored(query, child)
    assert not scoring.listable(value, comparison) and "NHS number differs" in comparison.reasons


# The ingest path over a population --------------------------------------------------------------------

@pytest.fixture(scope="module")
def population(django_db_setup, django_db_blocker):
    """1,200 children loaded once for the module; a third hold no NHS number and some a UPN, as
    records born of school feeds do."""
    with django_db_blocker.unblock():
        people = corpus.population(1200, seed=9, absent=60)
        with transaction.atomic():
            corpus.load(people)
            ids = list(Child.objects.order_by("pk").values_list("pk", flat=True))
            Child.objects.filter(pk__in=ids[::3]).update(nhs_number=None)
            for n, pk in enumerate(ids[1::7]):
                Child.objects.filter(pk=pk).update(upn=factories.upn_for(n))
        yield people
        Child.objects.all().delete()
        LocalAuthority.objects.all().delete()


@pytest.fixture(scope="module")
def feed_queries(population, django_db_blocker):
    """The corpus's queries that give a date of birth, each as a feed might send it: with a sex, an
    NHS number nobody holds, the child's own NHS number or UPN, both of these, or as it is."""
    with django_db_blocker.unblock():
        held = {c.reference: c for c in Child.objects.all()}
    rng = random.Random(12)
    queries = []
    for group in corpus.cases(population, targets=30, seed=13):
        for case in group:
            if not case.query.date_of_birth:
                continue
            target = held.get(case.target)
            how = rng.choice(["as it is", "sex", "new NHS number", "own NHS number", "own UPN", "both"])
            if how == "sex":
                fields = {"sex": rng.choice("FM")}
            elif how == "new NHS number":
                fields = {"nhs_number": factories.nhs_number_for(900_000 + len(queries))}
            elif how == "own NHS number" and target and target.nhs_number:
                fields = {"nhs_number": target.nhs_number}
            elif how == "own UPN" and target and target.upn:
                fields = {"upn": target.upn}
            elif how == "both" and target and target.upn:  # an NHS number nobody holds, the child's UPN
                fields = {"nhs_number": factories.nhs_number_for(900_000 + len(queries)), "upn": target.upn}
            else:
                how, fields = "as it is", {}
            queries.append((how, dataclasses.replace(case.query, **fields)))
    return queries


def _reference(query: Query, *, shielded_unlocated: bool) -> list[tuple]:
    """The fuzzy stage without any shortcut: every child its blocks find, read through the ORM and
    scored by ``scoring.scored``; those that may be listed (for ingest, ``shielded_unlocated``: those
    reaching ``scoring.REVIEW`` too), best first."""
    blocks = blocking.fuzzy_blocks(query, django_settings.SEARCH_BLOCK_LIMIT)
    assert not blocks.truncated
    frequencies = name_frequencies(query)
    unlocated = dataclasses.replace(query, postcode="", postcode_kind="")
    found = []
    for child in Child.objects.filter(pk__in=blocks.ids, status=Child.Status.ACTIVE).prefetch_related(
            "names", "addresses"):
        hidden = child.shielded
        if hidden and query.postcode and not shielded_unlocated:
            continue
        stored = scoring.StoredChild(
            date_of_birth=child.date_of_birth, sex=child.sex, nhs_number=child.nhs_number or "",
            upn=child.upn or "", postcode="" if hidden else child.postcode,
            previous_postcodes=() if hidden else tuple(
                a.postcode for a in child.addresses.all() if a.postcode != child.postcode),
            names=tuple(scoring.StoredName.of(n.kind, n.given_names, n.family_name) for n in child.names.all()))
        value, comparison = scoring.scored(unlocated if hidden else query, stored, frequencies)
        if scoring.listable(value, comparison) and (not shielded_unlocated or comparison.probability >= scoring.REVIEW):
            found.append((child.reference, value, tuple(comparison.reasons), -comparison.weight, child.pk))
    return [row[:3] for row in sorted(found, key=lambda c: (-c[1], c[3], c[4]))]


def _listed(candidates) -> list[tuple]:
    return [(c.child.reference, c.score, c.reasons) for c in candidates]


@pytest.mark.django_db
def test_the_ingest_path_finds_exactly_the_candidates_the_full_fuzzy_stage_would(feed_queries):
    """Same children, scores and reasons, in the same order, for every feed-like query; and ranking
    for a searcher (the full fuzzy stage, shortcuts within ``rank`` only) agrees as well."""
    kinds, differ = collections.Counter(), []
    for number, (how, query) in enumerate(feed_queries):
        expected = _reference(query, shielded_unlocated=True)
        kinds[how, bool(expected)] += 1
        if _listed(match_within_reach(query, shielded_unlocated=True)) != expected:
            differ.append((how, query.canonical(), "ingest"))
        if number % 3 == 0 and _listed(match(query, mode=FUZZY)) != _reference(query, shielded_unlocated=False):
            differ.append((how, query.canonical(), "search"))
    assert differ == []
    # Not vacuous: most queries have candidates, and each kind of feed row came up, with and without.
    assert sum(n for (_, found), n in kinds.items() if found) >= 250
    assert all(kinds[how, True] >= 3 for how in ["as it is", "sex", "own NHS number", "own UPN", "both"]), kinds
    assert kinds["new NHS number", True] >= 5 and kinds["new NHS number", False] >= 5


@pytest.mark.django_db
def test_the_ingest_path_reads_the_child_and_name_tables_only_through_indexes(population, feed_queries):
    """Every statement has an index to go through. On a population this small PostgreSQL rightly
    prefers reading all of ``children_child`` to find the few without an NHS number born in a year;
    with whole-table reads priced out (for this test's transaction) it must still find an index,
    as it will at millions of children."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
    for how, query in feed_queries[:40:4] + [q for q in feed_queries if q[0] == "new NHS number"][:3]:
        with CaptureQueriesContext(connection) as issued:
            match_within_reach(query, shielded_unlocated=True)
        statements = [q["sql"] for q in issued.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
        scans = {sql[:120]: SCAN[connection.vendor].findall(_plan(sql)) for sql in statements}
        assert {sql: found for sql, found in scans.items() if found} == {}, how
