"""Query in, ranked candidates out: the matching engine (SPEC 3.7).

Two stages. The plain stage looks for exact or prefix names and the exact date of
birth; the fuzzy stage (phonetic keys, short forms, swapped names, previous names,
date-of-birth slips, postcode districts) runs unless the plain one's best answer is
confident, or when asked. Candidates come from indexed blocks (``blocking``) and are
scored in Python (``scoring``, a calibrated match probability); those at least
``POSSIBLE`` that agree on two identity facts are returned.

Nothing here needs a request, a user or the audit log: the search service adds
those, and feed ingest calls ``match`` directly.
"""

import dataclasses
from datetime import date
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
    weight: float = 0.0  # the unrounded log2 match weight: breaks ties between equal scores
    probability: float = 0.0  # the match probability before any cap below CONFIDENT (calibration)
    capped: bool = False  # kept below CONFIDENT (scoring.scored)

    @property
    def band(self) -> str:
        return scoring.band(self.score)

    @property
    def confident(self) -> bool:
        return self.score >= scoring.CONFIDENT


@dataclass
class SearchOutcome:
    """``candidates`` is what may be listed: the best ``cap`` when ``too_many`` matched."""

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
    """Every candidate that may be listed (``scoring.listable``), best first (no cap)."""
    return search(query, mode=mode, cap=None, respect_shielding=respect_shielding,
                  shielded_unlocated=shielded_unlocated).candidates


def search(query: Query, *, mode: str = AUTO, cap=..., respect_shielding: bool = True,
           shielded_unlocated: bool = False) -> SearchOutcome:
    """Run the stages ``mode`` asks for and rank the result.

    AUTO runs the plain stage, then the fuzzy one unless the plain stage's best answer is
    confident (a wrong exact namesake must not hide the right child).
    ``cap`` (default ``SEARCH_RESULT_CAP``; ``None`` for no cap): when more candidates than this
    match, the best ``cap`` are listed and ``too_many`` is set, so the searcher adds detail.
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
    frequencies = name_frequencies(query)
    used = PLAIN if mode in (AUTO, PLAIN) else FUZZY
    blocks = blocking.plain_blocks(query, limit) if used == PLAIN else blocking.fuzzy_blocks(query, limit)
    ranked = rank(query, blocks.ids, respect_shielding=respect_shielding, shielded_unlocated=shielded_unlocated,
                  frequencies=frequencies)
    if mode == AUTO and not (ranked and ranked[0].confident):
        used = FUZZY
        blocks = blocking.fuzzy_blocks(query, limit)
        ranked = rank(query, blocks.ids, respect_shielding=respect_shielding,
                      shielded_unlocated=shielded_unlocated, frequencies=frequencies)
    too_many = cap is not None and len(ranked) > cap
    return SearchOutcome(
        candidates=ranked[:cap] if too_many else ranked, mode=used, matched=len(ranked), too_many=too_many,
        blocked=len(blocks.ids), truncated=blocks.truncated, cap=cap, query=query,
    )


def match_within_reach(query: Query, *, respect_shielding: bool = True,
                       shielded_unlocated: bool = False) -> list[Candidate]:
    """The candidates ``match(query, mode=FUZZY)`` returns (feed ingest).

    Feed ingest's entry point: only candidates whose match probability (before any cap) reaches
    ``scoring.REVIEW``, so a sibling at the same address is a new record, not a review for a person (a
    searcher sees every candidate agreeing on two facts; a feed has nobody looking). With calibrated
    weights a date of birth that differs no longer puts a child out of reach on its own, so there is no
    narrower date-of-birth window to look in; a child holding another NHS number is still never read
    (``_identifiers_within_reach``).
    """
    found = match(query, mode=FUZZY, respect_shielding=respect_shielding, shielded_unlocated=shielded_unlocated)
    return [c for c in found if c.probability >= scoring.REVIEW]


# Children counted per name: capped, so a common name costs no more than this many index entries.
FREQUENCY_CAP = 20000


def name_frequencies(query: Query) -> scoring.Frequencies:
    """How many children hold the query's first given name and whole family name, and how many
    children there are (the highest id: one index probe), for the term-frequency adjustment."""
    given = query.given_tokens[0] if query.given_tokens else ""
    family = query.family_tokens[0] if query.family_tokens else ""
    if not (given or family):
        return scoring.NO_FREQUENCIES
    names_table = ChildName._meta.db_table
    parts, params = [f"(SELECT MAX(id) FROM {Child._meta.db_table})"], []
    for column, token in (("given_norm", given), ("family_norm", family)):
        parts.append(f"(SELECT COUNT(*) FROM (SELECT 1 FROM {names_table} WHERE {column} = %s "
                     f"LIMIT {FREQUENCY_CAP}) AS {column}_count)")
        params.append(token)
    [(total, given_count, family_count)] = _fetch("SELECT " + ", ".join(parts), params)
    return scoring.Frequencies(total=total or 0, given={given: given_count} if given else {},
                               family={family: family_count} if family else {})


def rank(query: Query, child_ids, *, respect_shielding: bool = True, shielded_unlocated: bool = False,
         frequencies: scoring.Frequencies = scoring.NO_FREQUENCIES) -> list[Candidate]:
    """Score these children against the query; those that may be listed, best first, ties broken
    by the unrounded weight and then the child's id (never the random reference).

    Scores from plain columns (no model instances); loads the survivors as Child objects. A child
    whose identifiers, date of birth and sex leave ``POSSIBLE`` out of reach even with the best name
    and postcode agreement the query allows (``scoring.out_of_reach``) is dropped before its names
    are read: the same result, less work.
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
    remaining = scoring.best_remaining(query, frequencies)
    within = {}
    for pk, dob, sex, nhs_number, upn, postcode, shielded in rows:
        hidden = respect_shielding and shielded  # matched only on what anyone may see
        fields = dict(date_of_birth=_as_date(dob), sex=sex, nhs_number=nhs_number or "", upn=upn or "",
                      postcode="" if hidden else postcode)
        if not scoring.out_of_reach(query, scoring.StoredChild(**fields, previous_postcodes=(), names=()), remaining):
            within[pk] = (fields, hidden)
    stored_names: dict[int, list] = {}
    for child_id, kind, given, family in _fetch_for(
            within, f"SELECT child_id, kind, given_names, family_name FROM {ChildName._meta.db_table}"):
        stored_names.setdefault(child_id, []).append(scoring.StoredName.of(kind, given, family))
    previous: dict[int, list[str]] = {}
    if query.postcode:
        for child_id, postcode in _fetch_for(within, f"SELECT child_id, postcode FROM {Address._meta.db_table}"):
            previous.setdefault(child_id, []).append(postcode)
    scored = {}
    unlocated = dataclasses.replace(query, postcode="", postcode_kind="")  # for shielded_unlocated
    for pk, (fields, hidden) in within.items():
        stored = scoring.StoredChild(
            **fields, names=tuple(stored_names.get(pk, ())),
            previous_postcodes=() if hidden else tuple(p for p in previous.get(pk, ()) if p != fields["postcode"]))
        # A hidden location is neither evidence for nor against (only shielded_unlocated lets one through).
        value, comparison = scoring.scored(unlocated if hidden else query, stored, frequencies)
        if scoring.listable(value, comparison):
            scored[pk] = (value, comparison)
    children = Child.objects.filter(pk__in=list(scored)).select_related("local_authority")
    found = [Candidate(child=child, score=scored[child.pk][0], reasons=tuple(scored[child.pk][1].reasons),
                       weight=scored[child.pk][1].weight, probability=scored[child.pk][1].probability,
                       capped=scored[child.pk][1].capped) for child in children]
    found.sort(key=lambda c: (-c.score, -c.weight, c.child.pk))
    return found


def _as_date(value):
    """SQLite returns dates from a raw cursor as text."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def _identifiers_within_reach(query: Query) -> tuple[str, list]:
    """SQL keeping the children whose NHS number and UPN do not conflict with the query's: one holding
    an identifier other than the query's is never listed, unless another identifier matches."""
    asked = [(column, getattr(query, column)) for column in ("nhs_number", "upn") if getattr(query, column)]
    if not asked:
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
