"""The matching engine: ``match(Query.of(...))`` returns ranked ``Candidate``s.

    from children.matching import Query, match, CONFIDENT
    best = match(Query.of(given_name="Bill", family_name="Smyth", date_of_birth=dob))
    if best and best[0].score >= CONFIDENT: ...

Scores are in [0, 1]: 1.0 is exact, ``CONFIDENT`` (0.95) and ``POSSIBLE`` (0.85) are the
bands; below ``POSSIBLE`` nothing is returned. ``search`` adds the result cap and tells
which stage ran.
"""

from children.matching.engine import (AUTO, FUZZY, MODES, PLAIN, Candidate, SearchOutcome, match,
                                     match_within_reach, search)
from children.matching.query import Query
from children.matching.scoring import CONFIDENT, POSSIBLE

__all__ = ["AUTO", "CONFIDENT", "FUZZY", "MODES", "PLAIN", "POSSIBLE", "Candidate", "Query", "SearchOutcome",
           "match", "match_within_reach", "search"]
