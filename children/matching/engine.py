"""Query in, ranked candidates out: the matching engine (SPEC 3.7).

Two stages. The plain stage looks for exact or prefix names and the exact date of
birth; the fuzzy stage (phonetic keys, short forms, swapped names, previous names,
date-of-birth slips, postcode districts) runs when the plain one finds nothing, or
when asked. Candidates come from indexed blocks (``blocking``) and are scored in
Python (``scoring``); only those scoring at least ``POSSIBLE`` are returned.

Nothing here needs a request, a user or the audit log: the search service adds
those, and feed ingest calls ``match`` directly.
"""

import dataclasses
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection

from children.matching import blocking, scoring
from children.matching.query import Query
from children.models import Address, Child, ChildName

PLAIN = "plain"
FUZZY = "fuzzy"
AUTO = "auto"
MODES = (AUTO, PLAIN, FUZZY)


@dataclass(frozen=True)
class Candidate:
    child: Child
    score: float
    reasons: tuple[str, ...]

    @property
    def band(self) -> str:
        return scoring.band(self.score)

    @property
    def confident(self) -> bool:
        return self.score >= scoring.CONFIDENT


@dataclass
class SearchOutcome:
    """``candidates`` is what may be listed: empty when ``too_many`` matched."""

    candidates: list[Candidate]
    mode: str
    matched: int
    too_many: bool = False
    blocked: int = 0
    truncated: bool = False
    cap: int | None = None
    query: Query = field(default=None, repr=False)

    @property
    def references(self) -> list[str]:
        return [c.child.reference for c in self.candidates]


def block_limit() -> int:
    return settings.SEARCH_BLOCK_LIMIT


def match(query: Query, *, mode: str = AUTO, respect_shielding: bool = True,
          shielded_unlocated: bool = False) -> list[Candidate]:
    """Every candidate scoring at least ``scoring.POSSIBLE``, best first (no cap)."""
    return search(query, mode=mode, cap=None, respect_shielding=respect_shielding,
                  shielded_unlocated=shielded_unlocated).candidates


def search(query: Query, *, mode: str = AUTO, cap=..., respect_shielding: bool = True,
           shielded_unlocated: bool = False) -> SearchOutcome:
    """Run the stages ``mode`` asks for and rank the result.

    ``cap`` (default ``SEARCH_RESULT_CAP``; ``None`` for no cap): when more candidates
    than this match, none are listed and ``too_many`` is set, so the searcher adds detail.
    ``respect_shielding``: a shielded child is matched only on the fields anyone may see,
    and never by a query that gives a postcode (searchers always get this).
    ``shielded_unlocated`` (with ``respect_shielding``): a query that gives a postcode still matches
    shielded children, on everything but their location (feed ingest: the sending organisation
    knows where the child lives; a searcher must not learn it).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    cap = settings.SEARCH_RESULT_CAP if cap is ... else cap
    limit = block_limit()
    used = PLAIN if mode in (AUTO, PLAIN) else FUZZY
    blocks = blocking.plain_blocks(query, limit) if used == PLAIN else blocking.fuzzy_blocks(query, limit)
    ranked = rank(query, blocks.ids, respect_shielding=respect_shielding, shielded_unlocated=shielded_unlocated)
    if mode == AUTO and not ranked:
        used = FUZZY
        blocks = blocking.fuzzy_blocks(query, limit)
        ranked = rank(query, blocks.ids, respect_shielding=respect_shielding, shielded_unlocated=shielded_unlocated)
    too_many = cap is not None and len(ranked) > cap
    return SearchOutcome(
        candidates=[] if too_many else ranked, mode=used, matched=len(ranked), too_many=too_many,
        blocked=len(blocks.ids), truncated=blocks.truncated, cap=cap, query=query,
    )


def rank(query: Query, child_ids, *, respect_shielding: bool = True,
         shielded_unlocated: bool = False) -> list[Candidate]:
    """Score these children against the query; those at least ``POSSIBLE``, best first.

    Scores from plain columns (no model instances); loads the survivors as Child objects.
    """
    if not child_ids:
        return []
    ids = sorted(child_ids)
    shielded_filter = " AND shielded = %s" if respect_shielding and query.postcode and not shielded_unlocated else ""
    rows = _fetch(
        f"SELECT id, date_of_birth, sex, nhs_number, upn, postcode, shielded FROM {Child._meta.db_table} "
        f"WHERE status = %s AND id IN ({_marks(ids)}){shielded_filter}",
        [Child.Status.ACTIVE, *ids, *([False] if shielded_filter else [])],
    )
    ids = [row[0] for row in rows]
    if not ids:
        return []
    stored_names: dict[int, list] = {}
    for child_id, kind, given, family in _fetch(
            f"SELECT child_id, kind, given_names, family_name FROM {ChildName._meta.db_table} "
            f"WHERE child_id IN ({_marks(ids)})", ids):
        stored_names.setdefault(child_id, []).append(scoring.StoredName.of(kind, given, family))
    previous: dict[int, list[str]] = {}
    if query.postcode:
        for child_id, postcode in _fetch(
                f"SELECT child_id, postcode FROM {Address._meta.db_table} WHERE child_id IN ({_marks(ids)})", ids):
            previous.setdefault(child_id, []).append(postcode)
    scored = {}
    unlocated = dataclasses.replace(query, postcode="", postcode_kind="")  # for shielded_unlocated
    for pk, dob, sex, nhs_number, upn, postcode, shielded in rows:
        hidden = respect_shielding and shielded  # matched only on what anyone may see
        stored = scoring.StoredChild(
            date_of_birth=dob, sex=sex, nhs_number=nhs_number or "", upn=upn or "",
            postcode="" if hidden else postcode,
            previous_postcodes=() if hidden else tuple(p for p in previous.get(pk, ()) if p != postcode),
            names=tuple(stored_names.get(pk, ())),
        )
        # A hidden location is neither evidence for nor against (only shielded_unlocated lets one through).
        value, reasons = scoring.score(unlocated if hidden else query, stored)
        if value >= scoring.POSSIBLE:
            scored[pk] = (value, tuple(reasons))
    children = Child.objects.filter(pk__in=list(scored)).select_related("local_authority")
    found = [Candidate(child=child, score=scored[child.pk][0], reasons=scored[child.pk][1]) for child in children]
    found.sort(key=lambda c: (-c.score, c.child.reference))
    return found


def _marks(values) -> str:
    return ", ".join(["%s"] * len(values))


def _fetch(sql: str, params) -> list[tuple]:
    """Plain rows for scoring: the ORM's per-query cost dominates at this size, and the SQL stays visible."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
