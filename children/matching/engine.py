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


def match_within_reach(query: Query, *, respect_shielding: bool = True,
                       shielded_unlocated: bool = False) -> list[Candidate]:
    """The candidates ``match(query, mode=FUZZY)`` returns, looked for only where they can be (feed ingest).

    A query with an exact date of birth (and no range) can score ``POSSIBLE`` only against children
    born within ``scoring.dob_window`` of it: the fuzzy stage's probes that ask for no date of birth
    are limited to the window's year (``Probe.narrowed``), a condition every candidate they could
    return already meets. So the candidates are the same, from a small part of the rows; where the
    fuzzy stage cut a probe at ``SEARCH_BLOCK_LIMIT``, the narrowed probe may find more of them, never
    fewer, unless it is cut too. A query with an NHS number nobody born in the window could share
    finds nobody, after one indexed look. Other queries: ``match``.
    """
    window = scoring.dob_window(query.date_of_birth) if query.date_of_birth and not query.dob_from \
        and not query.dob_to else None
    if window is None:
        return match(query, mode=FUZZY, respect_shielding=respect_shielding, shielded_unlocated=shielded_unlocated)
    if query.nhs_number and scoring.out_of_reach(scoring.IDENTIFIER_CONFLICT) \
            and not blocking.without_nhs_number(query, window).run(1).ids:
        # A child holding another NHS number is out of reach (IDENTIFIER_CONFLICT, see rank) unless
        # its UPN matches, and nobody born within the window holds none, nor anyone these
        # identifiers: no candidate anywhere.
        return []
    blocks = blocking.fuzzy_blocks(query, block_limit(), window=window)
    return rank(query, blocks.ids, respect_shielding=respect_shielding, shielded_unlocated=shielded_unlocated)


def rank(query: Query, child_ids, *, respect_shielding: bool = True,
         shielded_unlocated: bool = False) -> list[Candidate]:
    """Score these children against the query; those at least ``POSSIBLE``, best first.

    Scores from plain columns (no model instances); loads the survivors as Child objects. A child
    whose identifiers, date of birth or sex alone put ``POSSIBLE`` out of reach (``scoring.floor``)
    is dropped before its names are read, and one whose family names add enough to that
    (``scoring.name_floor``) before it is scored: the same result, less work.
    """
    if not child_ids:
        return []
    shielded_filter = " AND shielded = %s" if respect_shielding and query.postcode and not shielded_unlocated else ""
    ids_in, ids = blocking.in_clause("id", sorted(child_ids))
    identifiers, identifier_params = _identifiers_within_reach(query)
    rows = _fetch(
        f"SELECT id, date_of_birth, sex, nhs_number, upn, postcode, shielded FROM {Child._meta.db_table} "
        f"WHERE status = %s AND {ids_in}{identifiers}{shielded_filter}",
        [Child.Status.ACTIVE, *ids, *identifier_params, *([False] if shielded_filter else [])],
    )
    plain = {}  # the columns, for those whose identifiers, date of birth and sex leave POSSIBLE within reach
    for pk, dob, sex, nhs_number, upn, postcode, shielded in rows:
        hidden = respect_shielding and shielded  # matched only on what anyone may see
        fields = dict(date_of_birth=dob, sex=sex, nhs_number=nhs_number or "", upn=upn or "",
                      postcode="" if hidden else postcode)
        low = scoring.floor(query, scoring.StoredChild(**fields, previous_postcodes=(), names=()))
        if low is None or not scoring.out_of_reach(low):
            plain[pk] = (fields, hidden, low)
    stored_names: dict[int, list] = {}
    for child_id, kind, given, family in _fetch_for(
            plain, f"SELECT child_id, kind, given_names, family_name FROM {ChildName._meta.db_table}"):
        stored_names.setdefault(child_id, []).append(scoring.StoredName.of(kind, given, family))
    within = {}
    for pk, (fields, hidden, low) in plain.items():
        names = tuple(stored_names.get(pk, ()))
        if low is None or not scoring.out_of_reach(low + scoring.name_floor(query, names)):
            within[pk] = (fields, hidden, names)
    previous: dict[int, list[str]] = {}
    if query.postcode:
        for child_id, postcode in _fetch_for(within, f"SELECT child_id, postcode FROM {Address._meta.db_table}"):
            previous.setdefault(child_id, []).append(postcode)
    scored = {}
    unlocated = dataclasses.replace(query, postcode="", postcode_kind="")  # for shielded_unlocated
    for pk, (fields, hidden, names) in within.items():
        stored = scoring.StoredChild(
            **fields, names=names,
            previous_postcodes=() if hidden else tuple(p for p in previous.get(pk, ()) if p != fields["postcode"]))
        # A hidden location is neither evidence for nor against (only shielded_unlocated lets one through).
        value, reasons = scoring.score(unlocated if hidden else query, stored)
        if value >= scoring.POSSIBLE:
            scored[pk] = (value, tuple(reasons))
    children = Child.objects.filter(pk__in=list(scored)).select_related("local_authority")
    found = [Candidate(child=child, score=scored[child.pk][0], reasons=scored[child.pk][1]) for child in children]
    found.sort(key=lambda c: (-c.score, c.child.reference))
    return found


def _identifiers_within_reach(query: Query) -> tuple[str, list]:
    """SQL keeping the children whose NHS number and UPN leave ``POSSIBLE`` within reach: one holding
    an identifier other than the query's takes ``IDENTIFIER_CONFLICT``, out of reach unless another
    identifier matches (which damps every penalty)."""
    asked = [(column, getattr(query, column)) for column in ("nhs_number", "upn") if getattr(query, column)]
    if not asked or not scoring.out_of_reach(scoring.IDENTIFIER_CONFLICT):
        return "", []
    matches = " OR ".join(f"{column} = %s" for column, _ in asked)
    no_conflict = " AND ".join(f"COALESCE({column}, '') IN ('', %s)" for column, _ in asked)
    values = [value for _, value in asked]
    return f" AND ({matches} OR ({no_conflict}))", values + values


def _fetch_for(child_ids, select: str) -> list[tuple]:
    """``select`` (a table's rows by ``child_id``) for these children; nothing to ask for none."""
    if not child_ids:
        return []
    ids_in, ids = blocking.in_clause("child_id", sorted(child_ids))
    return _fetch(f"{select} WHERE {ids_in}", ids)


def _fetch(sql: str, params) -> list[tuple]:
    """Plain rows for scoring: the ORM's per-query cost dominates at this size, and the SQL stays visible."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
