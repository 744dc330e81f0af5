"""Which existing child an incoming feed row is about: the narrow interface ingest uses.

    find_child(row) -> MatchOutcome(child | None, candidates, confident)

Identifiers are resolved by the caller (an exact NHS number or UPN wins, in one
query per batch); this module does the demographic part with the SPEC 6 bands:
a single candidate scoring >= 0.95 with a clear lead is ``confident`` (attach),
candidates from 0.85 go to the LA admin's review queue, below that a new record.

Until the search engine (``children.matching``) lands, this scores with a small
self-contained scorer: candidates come only from indexed lookups (phonetic name
keys within a set of DOB variants, phonetic names within the postcode district,
DOB within the postcode district), never a table scan, and are scored with
rapidfuzz. It is deliberately cautious: a different given name with everything
else equal is what twins look like, so it never attaches on that alone.
"""

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Q
from django.utils import timezone
from rapidfuzz.distance import JaroWinkler

from children import identifiers, names
from children.models import Child, ChildName

CONFIDENT = 0.95
POSSIBLE = 0.85
# A confident answer also needs a lead over the runner-up: two near-equal records
# (twins, or a duplicate pair) go to a person.
LEAD = 0.05
BLOCK_LIMIT = 200
MAX_CANDIDATES = 5

# Scores are divided by the weights of the fields both sides have, so a missing postcode
# neither helps nor hurts. Sex weighs just enough that a mismatch alone stays below 0.95.
WEIGHTS = {"family": 0.30, "given": 0.25, "dob": 0.30, "postcode": 0.10, "sex": 0.06}


@dataclass(frozen=True)
class IncomingChild:
    given_names: str
    family_name: str
    date_of_birth: date
    sex: str = Child.Sex.UNKNOWN
    postcode: str = ""
    nhs_number: str = ""
    upn: str = ""

    @classmethod
    def from_row(cls, row: dict) -> "IncomingChild":
        return cls(**{f: row.get(f) or "" for f in ("given_names", "family_name", "sex", "postcode", "nhs_number",
                                                    "upn")}, date_of_birth=row["date_of_birth"])


@dataclass(frozen=True)
class Candidate:
    child: Child
    score: float
    reasons: tuple[str, ...] = ()

    @property
    def child_id(self) -> int:
        return self.child.pk


@dataclass(frozen=True)
class MatchOutcome:
    child: Child | None
    candidates: list[Candidate] = field(default_factory=list)
    confident: bool = False

    @property
    def needs_review(self) -> bool:
        return self.child is None and bool(self.candidates)


def find_child(row: IncomingChild) -> MatchOutcome:
    """The child this row is confidently about, else the candidates worth a person's look."""
    ids = _candidate_ids(row)
    if not ids:
        return MatchOutcome(child=None)
    children = Child.objects.active().filter(pk__in=ids).prefetch_related("names")
    scored = [c for c in (score(row, child) for child in children) if c is not None and c.score >= POSSIBLE]
    scored.sort(key=lambda c: (-c.score, c.child.pk))
    scored = scored[:MAX_CANDIDATES]
    if scored and scored[0].score >= CONFIDENT and (len(scored) == 1 or scored[0].score - scored[1].score >= LEAD):
        return MatchOutcome(child=scored[0].child, candidates=scored, confident=True)
    return MatchOutcome(child=None, candidates=scored, confident=False)


def dob_variants(dob: date) -> set[date]:
    """The date itself, day and month swapped (day <= 12), and every one-digit slip that is a
    plausible date of birth (not in the future, not before 1900)."""
    variants = {dob}
    if dob.day <= 12 and dob.day != dob.month:
        variants.add(date(dob.year, dob.day, dob.month))
    today = timezone.localdate()
    digits = dob.strftime("%Y%m%d")
    for i, original in enumerate(digits):
        for d in "0123456789":
            if d == original:
                continue
            text = digits[:i] + d + digits[i + 1:]
            try:
                variant = date(int(text[:4]), int(text[4:6]), int(text[6:]))
            except ValueError:
                continue
            if date(1900, 1, 1) <= variant <= today:
                variants.add(variant)
    return variants


def _candidate_ids(row: IncomingChild) -> set[int]:
    """Children worth scoring, from indexed probes only (two queries; the name blocks are OR'd so
    PostgreSQL combines their index scans)."""
    family_key = names.phonetic(row.family_name)
    given_key = names.phonetic(row.given_names.split(" ")[0])
    district = identifiers.postcode_district(row.postcode)
    variants = dob_variants(row.date_of_birth)
    blocks = Q(family_phonetic=family_key, child__date_of_birth__in=variants)
    if given_key:  # given and family names swapped
        blocks |= Q(family_phonetic=given_key, given_phonetic=family_key, child__date_of_birth__in=variants)
    if district:  # the same-sounding name in the same district, whatever the date of birth says
        blocks |= Q(family_phonetic=family_key, given_phonetic=given_key, child__postcode_district=district,
                    child__shielded=False)
    ids = set(ChildName.objects.filter(blocks, child__status=Child.Status.ACTIVE)
              .values_list("child_id", flat=True)[:BLOCK_LIMIT])
    if district:  # any name: a badly misspelt one, born that day in that district
        ids.update(Child.objects.active().filter(date_of_birth=row.date_of_birth, postcode_district=district,
                                                 shielded=False).values_list("pk", flat=True)[:BLOCK_LIMIT])
    return ids


def score(row: IncomingChild, child: Child) -> Candidate | None:
    """Score in [0, 1] with the reasons; None when an identifier proves it is someone else."""
    if row.nhs_number and child.nhs_number and row.nhs_number != child.nhs_number:
        return None
    if row.upn and child.upn and row.upn != child.upn:
        return None
    parts: dict[str, float] = {}
    reasons: list[str] = []

    name_score, name_reasons = _best_name(row, child)
    parts["family"], parts["given"] = name_score
    reasons += name_reasons

    parts["dob"], dob_reason = _dob(row.date_of_birth, child.date_of_birth)
    reasons.append(dob_reason)

    # A shielded child is matched only on what others may see: never on location.
    if row.postcode and child.postcode and not child.shielded:
        parts["postcode"], postcode_reason = _postcode(row.postcode, child.postcode)
        reasons.append(postcode_reason)
    if row.sex in ("F", "M") and child.sex in ("F", "M"):
        parts["sex"] = 1.0 if row.sex == child.sex else 0.0
        reasons.append("Same sex" if row.sex == child.sex else "Sex differs")
    if row.nhs_number and not child.nhs_number:
        reasons.append("Record has no NHS number")

    weight = sum(WEIGHTS[k] for k in parts)
    value = sum(WEIGHTS[k] * v for k, v in parts.items()) / weight
    return Candidate(child=child, score=round(value, 4), reasons=tuple(reasons))


def _best_name(row: IncomingChild, child: Child) -> tuple[tuple[float, float], list[str]]:
    row_given = names.normalise(row.given_names.split(" ")[0])
    row_family = names.normalise(row.family_name)
    row_family_parts = names.parts(row.family_name)
    best = ((0.0, 0.0), [])
    for known in child.names.all():
        kind = "" if known.kind == ChildName.Kind.CURRENT else f" ({known.get_kind_display().lower()})"
        family, family_reason = _family(row_family, row_family_parts, known)
        given, given_reason = _given(row_given, known.given_norm)
        candidate = ((family, given), [family_reason + kind, given_reason + kind])
        swapped_family, _ = _given(row_family, known.given_norm)
        swapped_given, _ = _given(row_given, known.family_norm)
        if swapped_family == 1.0 and swapped_given == 1.0 and family + given < 1.8:
            candidate = ((0.9, 0.9), ["Given and family names swapped" + kind])
        if sum(candidate[0]) > sum(best[0]):
            best = candidate
    return best


def _family(row_family: str, row_parts: list[str], known: ChildName) -> tuple[float, str]:
    if row_family == known.family_norm:
        return 1.0, "Family name the same"
    known_parts = names.parts(known.family_name)
    if (len(row_parts) > 1 or len(known_parts) > 1) and set(row_parts) & set(known_parts):
        return 0.9, "Part of a double-barrelled family name the same"
    similarity = JaroWinkler.similarity(row_family, known.family_norm)
    if names.phonetic(row_family) == known.family_phonetic:
        return 0.5 + 0.5 * similarity, "Family name sounds the same"
    return 0.8 * similarity, f"Family name similar ({similarity:.2f})"


def _given(row_given: str, known_given: str) -> tuple[float, str]:
    if row_given == known_given:
        return 1.0, "Given name the same"
    # Twins share everything but the given name: a near-miss never counts as the same.
    similarity = JaroWinkler.similarity(row_given, known_given)
    return 0.8 * similarity, f"Given name similar ({similarity:.2f})"


def _dob(row_dob: date, child_dob: date) -> tuple[float, str]:
    if row_dob == child_dob:
        return 1.0, "Date of birth the same"
    if row_dob.day <= 12 and (row_dob.year, row_dob.day, row_dob.month) == (child_dob.year, child_dob.month,
                                                                           child_dob.day):
        return 0.8, "Date of birth with day and month swapped"
    a, b = row_dob.strftime("%Y%m%d"), child_dob.strftime("%Y%m%d")
    if sum(x != y for x, y in zip(a, b)) == 1:
        return 0.7, "Date of birth one digit different"
    return 0.0, "Date of birth differs"


def _postcode(row_postcode: str, child_postcode: str) -> tuple[float, str]:
    if row_postcode == child_postcode:
        return 1.0, "Same postcode"
    if identifiers.postcode_sector(row_postcode) == identifiers.postcode_sector(child_postcode):
        return 0.8, "Same postcode sector"
    if identifiers.postcode_district(row_postcode) == identifiers.postcode_district(child_postcode):
        return 0.6, "Same postcode district"
    return 0.2, "Different postcode area"
