"""Which existing child an incoming feed row is about: the narrow interface ingest uses.

    find_child(row) -> MatchOutcome(child | None, candidates, confident)

Identifiers are resolved by the caller (an exact NHS number or UPN wins, in one
query per batch). The demographic part is the matching engine (``children.matching``,
SPEC 3.7): candidates from its indexed blocks (its fuzzy stage: phonetic names, short
forms, swapped names, date-of-birth slips, the postcode district), each with a score
in [0, 1] and the reasons. Candidates from ``POSSIBLE`` (0.85) go to the LA admin's
review queue; below that, a new record.

Attaching with nobody looking is feeds' decision, more cautious than the engine's
``CONFIDENT`` band, which is tuned for a searcher who then reads the record:

- the best candidate scores at least ``CONFIDENT`` (0.95) and leads every rival by
  ``LEAD``; a rival is another candidate with the same given name (a duplicate record,
  a child of the same name), not a sibling whose given name differs;
- the given name and the date of birth are exactly the same: a near-miss given name
  with everything else equal is what twins look like, and a date-of-birth slip, swapped
  given and family names or a postcode elsewhere (a move?) are for a person to judge.
"""

from dataclasses import dataclass, field
from datetime import date

from children.matching import CONFIDENT, POSSIBLE, Candidate, Query, match_within_reach
from children.models import Child

__all__ = ["CONFIDENT", "POSSIBLE", "Candidate", "IncomingChild", "MatchOutcome", "find_child"]

LEAD = 0.05
MAX_CANDIDATES = 5

# The engine's reasons (children.matching.scoring) that feeds' rule reads.
SAME_GIVEN_NAME = "given name matches"
SAME_DATE_OF_BIRTH = "date of birth matches"
FOR_A_PERSON = ("given and family names swapped", "postcode differs")


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

    def query(self) -> Query:
        return Query.of(given_name=self.given_names, family_name=self.family_name, date_of_birth=self.date_of_birth,
                        postcode=self.postcode, sex=self.sex, nhs_number=self.nhs_number, upn=self.upn)


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
    # The sending organisation knows where the child lives: a shielded child is still matched,
    # on everything but their location (the engine never scores or shows it).
    # The fuzzy stage's candidates, looked for only among children born where POSSIBLE is within reach.
    candidates = match_within_reach(row.query(), shielded_unlocated=True)[:MAX_CANDIDATES]
    attachable = [c for c in candidates if _unattended(c)]
    if attachable:
        best = attachable[0]
        rivals = [c.score for c in candidates if c is not best and SAME_GIVEN_NAME in c.reasons]
        if best.score - max(rivals, default=0.0) >= LEAD:
            return MatchOutcome(child=best.child, candidates=candidates, confident=True)
    return MatchOutcome(child=None, candidates=candidates, confident=False)


def _unattended(candidate: Candidate) -> bool:
    """May this candidate be attached with nobody looking? (The rule in the module docstring.)"""
    reasons = candidate.reasons
    return (candidate.score >= CONFIDENT and SAME_GIVEN_NAME in reasons and SAME_DATE_OF_BIRTH in reasons
            and not any(r.startswith(FOR_A_PERSON) for r in reasons))
