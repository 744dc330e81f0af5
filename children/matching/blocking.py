"""Which children are worth scoring: small blocks found through indexes, never a table scan.

Each block is one indexed probe (SPEC 7): identifiers; name keys (normalised tokens for
the plain stage, Double Metaphone keys for the fuzzy one) paired with a second key (the
other name, a date of birth or its slips, a postcode district); date of birth with a
postcode district. Every probe is capped at ``limit`` rows, so a block on a very common
name costs the same at a hundred children or eleven million. All the probes of a stage
go to the database as one ``UNION ALL`` statement: one round trip.
"""

from dataclasses import dataclass, field
from datetime import date

from django.db import connection
from django.utils import timezone

from children import identifiers, names
from children.matching import dates, nicknames
from children.matching.query import Query
from children.models import Child, ChildName, NameKey

KEYS = NameKey._meta.db_table
CHILDREN = Child._meta.db_table
NAMES = ChildName._meta.db_table


@dataclass
class Probe:
    """``SELECT <column> FROM <table> WHERE <conditions> LIMIT n``; conditions are
    (column, operator, value), ``in`` taking a collection."""

    table: str
    conditions: list[tuple[str, str, object]]
    column: str = "child_id"
    join: str = ""

    def sql(self, limit: int) -> tuple[str, list]:
        clauses, params = [], []
        adapt = _adapter()
        for column, operator, value in self.conditions:
            if operator == "in":
                clause, values = in_clause(column, [adapt(v) for v in sorted(value)])
                clauses.append(clause)
                params.extend(values)
            elif operator == "is null":
                clauses.append(f"{column} IS NULL")
            elif operator == "between":
                clauses.append(f"{column} BETWEEN %s AND %s")
                params.extend(adapt(v) for v in value)
            else:
                clauses.append(f"{column} {operator} %s")
                params.append(adapt(value))
        return f"SELECT {self.column} AS child_id FROM {self.table}{self.join} WHERE {' AND '.join(clauses)} " \
               f"LIMIT {int(limit)}", params


def in_clause(column: str, values: list) -> tuple[str, list]:
    """``column IN (...)``: on PostgreSQL a long list as one array parameter (``= ANY``), which the
    driver binds far faster than hundreds of separate ones; the same rows and the same index either way."""
    if connection.vendor == "postgresql" and len(values) > 8:
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


def _adapter():
    """value -> SQL parameter (dates as the backend wants them), the backend looked up once per probe."""
    adapt_date = connection.ops.adapt_datefield_value
    return lambda value: adapt_date(value) if isinstance(value, date) else value


@dataclass
class Blocks:
    probes: list[Probe] = field(default_factory=list)
    ids: set[int] = field(default_factory=set)
    truncated: bool = False

    def probe(self, table: str, *conditions, column: str = "child_id", join: str = ""):
        """Add a probe; conditions are (column, operator, value), operator one of =, <, >=, in, between, is null."""
        if all(op != "in" or value for _, op, value in conditions):  # an empty IN matches nothing
            self.probes.append(Probe(table, list(conditions), column, join))

    def run(self, limit: int) -> "Blocks":
        if not self.probes:
            return self
        parts, params = [], []
        for number, probe in enumerate(self.probes):
            sql, probe_params = probe.sql(limit)
            parts.append(f"SELECT {number} AS probe, child_id FROM ({sql}) AS block{number}")
            params.extend(probe_params)
        counts = [0] * len(self.probes)
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            for number, child_id in cursor.fetchall():
                counts[number] += 1
                self.ids.add(child_id)
        self.truncated = any(count >= limit for count in counts)
        return self


def prefix_range(column: str, prefix: str) -> list[tuple[str, str, str]]:
    """``column LIKE 'pre%'`` as a range an ordinary b-tree index serves in any collation
    (names are stored as lower-case ASCII letters only)."""
    upper = prefix.rstrip("z")
    if not upper:
        return [(column, ">=", prefix)]
    return [(column, ">=", prefix), (column, "<", upper[:-1] + chr(ord(upper[-1]) + 1))]


def keys_of(tokens) -> set[str]:
    return {k for token in tokens for k in names.keys(token)}


def given_keys(query: Query) -> set[str]:
    """Keys of each given name the searcher typed and of its short forms and variants."""
    tokens = set(query.given_tokens)
    for token in query.given_tokens:
        tokens |= nicknames.equivalents(token)
    return keys_of(t for t in tokens if len(t) > 1)


def plain_blocks(query: Query, limit: int) -> Blocks:
    """Exact or prefix on normalised names, exact date of birth, postcode district."""
    blocks = Blocks()
    _plain_probes(query, blocks)
    return blocks.run(limit)


def _plain_probes(query: Query, blocks: Blocks):
    _identifiers(query, blocks)
    given = query.given_tokens[0] if query.given_tokens else ""
    dob, district = query.date_of_birth, query.district
    if query.family_tokens:
        family = ("family_norm", "in", query.family_tokens)
        given_prefix = prefix_range("given_norm", given) if given else []
        # The (key, date of birth) and (key, district) indexes are the narrow ones; the norm filter keeps it exact.
        if dob:
            blocks.probe(KEYS, ("family_key", "in", keys_of(query.family_tokens)), ("date_of_birth", "=", dob),
                         family, *given_prefix)
        elif given:
            blocks.probe(KEYS, family, *given_prefix, *([("postcode_district", "=", district)] if district else []))
        elif district:
            blocks.probe(KEYS, ("family_key", "in", keys_of(query.family_tokens)),
                         ("postcode_district", "=", district), family)
    elif given and dob:
        blocks.probe(NAMES, (f"{CHILDREN}.date_of_birth", "=", dob), *prefix_range(f"{NAMES}.given_norm", given),
                     column=f"{NAMES}.child_id", join=f" JOIN {CHILDREN} ON {CHILDREN}.id = {NAMES}.child_id")
    elif given and district:
        blocks.probe(KEYS, ("given_key", "in", keys_of([given])), ("postcode_district", "=", district),
                     ("given_norm", "=", given))
    if dob and district and not query.has_name:
        blocks.probe(CHILDREN, ("date_of_birth", "=", dob), ("postcode_district", "=", district),
                     ("shielded", "=", False), column="id")


def fuzzy_blocks(query: Query, limit: int) -> Blocks:
    """Phonetic keys, short forms, swapped names, date-of-birth slips and postcode districts
    (and everything the plain stage looks under)."""
    return fuzzy_probes(query).run(limit)


def fuzzy_probes(query: Query) -> Blocks:
    blocks = Blocks()
    _plain_probes(query, blocks)
    given, family = given_keys(query), keys_of(query.family_tokens)
    # The names may have been typed the wrong way round: look each up as the other too.
    family_as_given = family | keys_of(n for t in query.family_tokens for n in nicknames.equivalents(t))
    dob_condition = _dob_condition(query)
    district = query.district
    if given and family:
        blocks.probe(KEYS, ("family_key", "in", family), ("given_key", "in", given))
        blocks.probe(KEYS, ("family_key", "in", given), ("given_key", "in", family_as_given))
    for column, keys in (("family_key", family), ("given_key", given), ("family_key", given),
                         ("given_key", family_as_given)):
        if not keys:
            continue
        if dob_condition:
            blocks.probe(KEYS, (column, "in", keys), dob_condition)
        if district:
            blocks.probe(KEYS, (column, "in", keys), ("postcode_district", "=", district))
    if query.postcode_kind == "full":
        # Both names and the date of birth mistyped: the children at that very postcode (a handful,
        # through the sector index).
        blocks.probe(CHILDREN, ("postcode_sector", "=", identifiers.postcode_sector(query.postcode)),
                     ("postcode", "=", query.postcode), ("shielded", "=", False), column="id")
    if query.date_of_birth:
        if district:
            blocks.probe(CHILDREN, dob_condition, ("postcode_district", "=", district), ("shielded", "=", False),
                         column="id")
        # Both names mistyped: the children born that day (or with day and month swapped).
        exact = {query.date_of_birth, dates.swapped(query.date_of_birth)} - {None}
        blocks.probe(CHILDREN, ("date_of_birth", "in", exact), column="id")
    return blocks


def _identifiers(query: Query, blocks: Blocks):
    if query.nhs_number:
        blocks.probe(CHILDREN, ("nhs_number", "=", query.nhs_number), column="id")
    if query.upn:
        blocks.probe(CHILDREN, ("upn", "=", query.upn), column="id")


def _dob_condition(query: Query):
    if query.date_of_birth:
        variants = dates.variants(query.date_of_birth, today=timezone.localdate())
        return "date_of_birth", "in", variants
    if query.dob_from and query.dob_to:
        return "date_of_birth", "between", (query.dob_from, query.dob_to)
    return None
