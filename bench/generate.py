"""Write a synthetic national population straight into PostgreSQL, fast (issue 19).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/signpost_11m SECRET_KEY=... \\
        python bench/generate.py --children 11000000 --seed 1 [--audit-events 50000000]

The database is migrated first, then loaded with COPY in chunks of children, each chunk made
from its own seeded random stream, so a run is the same whatever the number of workers. Before
loading, the indexes and constraints of the bulk tables are dropped (their definitions are
kept in ``bench_generate_ddl`` so an interrupted run can put them back with ``--restore``);
after loading they are rebuilt, the id sequences moved past the loaded rows, and every table
ANALYZEd. Memory stays flat: a worker holds one chunk at a time.

The population: England's 153 children's-services local authorities (``data/local_authorities.csv``)
with their postcode districts; organisations of every kind in each; children aged 0-18 with
given names weighted after the ONS baby-name rankings (``data/given_names.csv``: rank-weighted,
with the spelling variants England's children have) and family names by British surname
frequency (Faker's en_GB table) plus the names of England's larger communities, some
double-barrelled, some with a previous name; valid NHS numbers and UPNs; 0-5 involvements
across services, some ended, some with sensitive services; moves between areas (address
history, ended involvements in the old area); shielded children at about 3 in 1,000.

Derived columns (normalised names, phonetic keys, the matching engine's ``NameKey`` rows,
postcode district and sector, retention date) come from the same functions ``save()`` calls;
``tests/bench/test_generate.py`` compares a generated set with the same children saved
through the models.

``--audit-events M`` then appends M audit events from the last ``--audit-months`` months (searches,
record views, sign-ins, grants; generated actors in the generated organisations, sampled children)
to every chain in turn, hashed by ``audit.services.compute_hash`` and linked from each chain's head
(locked while a chunk is written), so ``verify_audit_chain`` passes; the monthly partitions are
made first.
"""

import argparse
import csv
import itertools
import json
import multiprocessing
import os
import platform
import random
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone as dt_timezone
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signpost.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from children import identifiers, names  # noqa: E402
from children.models import Address, Child, ChildName, Involvement, NameKey  # noqa: E402
from practitioners.models import ChildGroupObjectPermission, LocalAuthority, Organisation, Service  # noqa: E402

# Organisations made in each local authority: (kind, how many, name pattern).
ORGANISATIONS = [
    (Organisation.Kind.SCHOOL, 12, "{la} School {n}"),
    (Organisation.Kind.GP_PRACTICE, 6, "{la} GP Practice {n}"),
    (Organisation.Kind.NHS_TRUST, 1, "{la} NHS Trust"),
    (Organisation.Kind.SOCIAL_CARE, 2, "{la} Children's Social Care Team {n}"),
    (Organisation.Kind.POLICE, 1, "{la} Police Safeguarding Unit"),
    (Organisation.Kind.YOUTH_JUSTICE, 1, "{la} Youth Justice Service"),
    (Organisation.Kind.VOLUNTARY, 2, "{la} Family Support Charity {n}"),
]
# Services by organisation kind; the sensitive ones are masked on the record (SPEC 2).
SERVICES = {
    Organisation.Kind.SCHOOL: [("Education", "education", False), ("School nursing", "school-nursing", False)],
    Organisation.Kind.GP_PRACTICE: [("Primary care", "primary-care", False), ("Sexual health", "sexual-health", True)],
    Organisation.Kind.NHS_TRUST: [("Health visiting", "health-visiting", False),
                                  ("Child and adolescent mental health", "camhs", True),
                                  ("Substance misuse", "substance-misuse", True)],
    Organisation.Kind.SOCIAL_CARE: [("Children's social care", "social-care", False),
                                    ("Early help", "early-help", False)],
    Organisation.Kind.POLICE: [("Police safeguarding", "police-safeguarding", False)],
    Organisation.Kind.YOUTH_JUSTICE: [("Youth justice", "youth-justice", False)],
    Organisation.Kind.VOLUNTARY: [("Family support", "family-support", False)],
}
NULL = r"\N"
INVOLVEMENT_COUNTS = [0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5]  # 0-5, most children known to one or two services
UNIT = "ABDEFGHJLNPQRSTUWXYZ"
EXTRA_FAMILY = ["Khan", "Ahmed", "Ali", "Hussain", "Begum", "Patel", "Shah", "Singh", "Kaur", "Akhtar", "Iqbal",
                "Rahman", "Islam", "Miah", "Chowdhury", "Nowak", "Kowalski", "Wiśniewski", "Kowalczyk", "Kociński",
                "Okonkwo", "Adeyemi", "Mensah", "Osei", "Nguyen", "Popescu", "Ionescu", "O'Brien", "O'Reilly",
                "MacDonald", "McDonald", "D'Souza", "Da Silva", "Ó Súilleabháin", "Van der Berg", "Yilmaz", "Kaya",
                "Mohamed", "Abdi", "Warsame"]


def _cumulative(weights) -> list[float]:
    """Cumulative weights, made once: ``random.choices`` would otherwise sum them on every call."""
    return list(itertools.accumulate(float(w) for w in weights))


def _weighted(path: Path, name_col: str, weight_col: str, **filters) -> tuple[list[str], list[float]]:
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if all(r[k] == v for k, v in filters.items())]
    return [r[name_col] for r in rows], _cumulative(r[weight_col] for r in rows)


@dataclass
class World:
    """The reference data the children are spread over, read once per worker."""

    las: list[tuple[int, list[str], float]]  # id, postcode districts, weight
    la_cum_weights: list[float]
    organisations: dict[int, list[tuple[int, int, str, str, list[tuple[int, bool]]]]]  # la id -> (org, group, phone, email, services)
    permission_id: int
    given: dict[str, tuple[list[str], list[float]]]
    family: tuple[list[str], list[float]]

    @classmethod
    def load(cls) -> "World":
        from django.contrib.auth.models import Permission
        from faker.providers.person.en_GB import Provider

        districts = {row["gss_code"]: row["postcode_districts"].split() for row in _la_rows().values()}
        las = [(pk, districts[gss], float(len(districts[gss])))
               for pk, gss in LocalAuthority.objects.filter(gss_code__in=districts).values_list("pk", "gss_code")]
        organisations: dict[int, list] = {}
        for org in Organisation.objects.filter(local_authority_id__in=[pk for pk, _, _ in las]).prefetch_related(
                "services"):
            services = [(s.pk, s.sensitive) for s in org.services.all()]
            organisations.setdefault(org.local_authority_id, []).append(
                (org.pk, org.access_group_id, org.contact_phone, org.contact_email, services))
        for value in organisations.values():
            value.sort()
        surnames = list(Provider.last_names.keys()) + EXTRA_FAMILY
        weights = list(Provider.last_names.values()) + [0.05] * len(EXTRA_FAMILY)
        las.sort()
        unsafe = [n for n in surnames if set(n) & set("\t\n\r\\")]
        if unsafe:
            raise RuntimeError(f"names with COPY control characters: {unsafe}")
        return cls(
            las=las, la_cum_weights=_cumulative(w for _, _, w in las), organisations=organisations,
            permission_id=Permission.objects.get(codename="view_child", content_type__app_label="children").pk,
            given={sex: _weighted(DATA / "given_names.csv", "name", "weight", sex=sex) for sex in "FM"},
            family=(surnames, _cumulative(weights)),
        )


@lru_cache(maxsize=1)
def _la_rows() -> dict[str, dict]:
    with open(DATA / "local_authorities.csv", newline="") as f:
        return {row["gss_code"]: row for row in csv.DictReader(f)}


@transaction.atomic
def ensure_reference_data() -> None:
    """Local authorities, services and organisations (each with its access group), made idempotently
    in bulk: one transaction, a few statements, not thousands of commits."""
    from django.contrib.auth.models import Group

    services = {}
    for kind_services in SERVICES.values():
        for name, code, sensitive in kind_services:
            services[code], _ = Service.objects.get_or_create(code=code, defaults={"name": name, "sensitive": sensitive})
    LocalAuthority.objects.bulk_create([
        LocalAuthority(gss_code=gss, name=row["name"],
                       safeguarding_contact=f"Children's front door, 0300 555 {gss[-4:]}",
                       out_of_hours_phone=f"0300 555 {int(gss[-4:]) + 5000:04d}")
        for gss, row in _la_rows().items()], ignore_conflicts=True)
    las = {la.gss_code: la for la in LocalAuthority.objects.filter(gss_code__in=_la_rows())}
    wanted = []
    for gss, row in _la_rows().items():
        for kind, count, pattern in ORGANISATIONS:
            for n in range(1, count + 1):
                wanted.append(Organisation(
                    local_authority=las[gss], name=pattern.format(la=row["name"], n=n), kind=kind,
                    contact_phone=f"0300 {int(gss[-4:]):04d} {n:03d}",
                    contact_email=f"{kind.replace('_', '-')}-{n}@{gss.lower()}.example.org"))
    Organisation.objects.bulk_create(wanted, ignore_conflicts=True)
    missing = list(Organisation.objects.filter(local_authority__in=las.values(), access_group__isnull=True))
    if not missing:
        return
    Group.objects.bulk_create([Group(name=f"organisation-{org.pk}") for org in missing], ignore_conflicts=True)
    groups = dict(Group.objects.filter(name__in=[f"organisation-{org.pk}" for org in missing]).values_list("name", "pk"))
    through = Organisation.services.through
    links = []
    for org in missing:
        org.access_group_id = groups[f"organisation-{org.pk}"]
        links += [through(organisation_id=org.pk, service_id=services[code].pk) for _, code, _ in SERVICES[org.kind]]
    Organisation.objects.bulk_update(missing, ["access_group"], batch_size=1000)
    through.objects.bulk_create(links, ignore_conflicts=True)


# --- One chunk of children -------------------------------------------------------------------

def nhs_number(child_id: int) -> str:
    """A valid NHS number unique to the child id (the first valid one of its eleven)."""
    for j in range(11):
        first_nine = f"{400_000_000 + child_id * 11 + j:09d}"
        check = identifiers.nhs_check_digit(first_nine)
        if check is not None:
            return f"{first_nine}{check}"
    raise AssertionError("eleven consecutive numbers all had check digit 10")


def upn(child_id: int, la_number: int) -> str:
    """A valid UPN: check letter, a three-digit LA number, then digits unique to the child."""
    last_twelve = f"{la_number % 1000:03d}{child_id:09d}"
    return identifiers.upn_check_letter(last_twelve) + last_twelve


@lru_cache(maxsize=1 << 16)
def _given_fields(first_given: str) -> str:
    """given_norm and given_phonetic of a first given name, as ChildName.derive_fields makes them."""
    return f"{names.normalise(first_given)}\t{names.phonetic(first_given)}"


@lru_cache(maxsize=1 << 16)
def _family_fields(family_name: str) -> tuple[str, str]:
    return names.normalise(family_name), names.phonetic(family_name)


@lru_cache(maxsize=1 << 16)
def _given_keys(given_names: str) -> list[tuple[str, str]]:
    """The given-name half of ``names.blocking_keys``: its (token, key) pairs."""
    return list(dict.fromkeys((g, gk) for g, _, gk, _ in names.blocking_keys(given_names, "")))


@lru_cache(maxsize=1 << 16)
def _family_keys(family_name: str) -> list[tuple[str, str]]:
    return list(dict.fromkeys((f, fk) for _, f, _, fk in names.blocking_keys("", family_name)))


@lru_cache(maxsize=1 << 16)
def _postcode_parts(postcode: str) -> str:
    """postcode_district and postcode_sector as Child.derive_fields stores them (the unit letters
    never change either, so one entry per sector is enough)."""
    return f"{identifiers.postcode_district(postcode)}\t{identifiers.postcode_sector(postcode)}"


_REF_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
_REF_SPACE = len(_REF_ALPHABET) ** 10
_REF_MULTIPLIER = 48_271_262_989_081  # odd and coprime to 30**10: id -> reference is one-to-one


def reference_for(child_id: int, seed: int) -> str:
    """A random-looking reference in the app's shape, unique per id (a bijection of the id)."""
    n = (child_id * _REF_MULTIPLIER + seed * 7_919) % _REF_SPACE
    body = []
    for _ in range(10):
        n, digit = divmod(n, 30)
        body.append(_REF_ALPHABET[digit])
    return f"C-{''.join(body[:5])}-{''.join(body[5:])}"


def _text(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return str(value)


class Table:
    """COPY text for one table: the columns we fill, then every other column at its default.

    Rows arrive as tab-joined text (``line``): the generator's own values never hold a tab,
    newline or backslash (``World.load`` checks the name lists), so nothing is escaped per row.
    """

    def __init__(self, model, columns: list[str]):
        self.name = model._meta.db_table
        fields = {f.column: f for f in model._meta.concrete_fields}
        missing = [c for c in columns if c not in fields]
        if missing:
            raise RuntimeError(f"{self.name} has no column {missing}: bench/generate.py is out of step with the models")
        self.constants = {}
        for column, f in fields.items():
            if column in columns or f.primary_key:  # unnamed ids come from the table's sequence
                continue
            if f.has_default():
                self.constants[column] = _text(f.get_default())
            elif not f.null:
                raise RuntimeError(f"{self.name}.{column} needs a value: add it to bench/generate.py")
        self.columns = columns + list(self.constants)
        self.tail = "".join("\t" + v for v in self.constants.values()) + "\n"
        self.lines: list[str] = []

    def line(self, text: str) -> None:
        self.lines.append(text + self.tail)

    def flush(self, cursor) -> int:
        lines, self.lines = self.lines, []
        if lines:
            with cursor.copy(f"COPY {self.name} ({', '.join(self.columns)}) FROM STDIN") as copy:
                copy.write("".join(lines))
        return len(lines)


def tables() -> dict[str, Table]:
    return {
        "child": Table(Child, ["id", "reference", "given_names", "family_name", "date_of_birth", "sex", "nhs_number",
                               "upn", "la_child_id", "address_line", "postcode", "postcode_district",
                               "postcode_sector", "local_authority_id", "shielded", "status", "created_at",
                               "last_activity_at", "retain_until", "legal_hold", "legal_hold_reason"]),
        "name": Table(ChildName, ["id", "child_id", "kind", "given_names", "family_name", "given_norm", "family_norm",
                                  "given_phonetic", "family_phonetic"]),
        "key": Table(NameKey, ["child_id", "name_id", "given_norm", "family_norm", "given_key", "family_key",
                               "date_of_birth", "postcode_district"]),
        "address": Table(Address, ["child_id", "address_line", "postcode", "local_authority_id", "moved_in_on",
                                   "moved_out_on"]),
        "involvement": Table(Involvement, ["child_id", "organisation_id", "service_id", "contact_phone",
                                           "contact_email", "started_on", "ended_on", "external_id",
                                           "last_confirmed_at", "created_at"]),
        "access": Table(ChildGroupObjectPermission, ["content_object_id", "group_id", "permission_id"]),
    }


def _postcode(rng: random.Random, districts: list[str]) -> str:
    return f"{rng.choice(districts)} {rng.randint(0, 9)}{rng.choice(UNIT)}{rng.choice(UNIT)}"


def write_chunk(world: World, tabs: dict[str, Table], *, seed: int, chunk: int, first_id: int, count: int,
                today: date, now: datetime) -> None:
    """Rows for children ``first_id`` .. ``first_id + count - 1``, from this chunk's own random stream."""
    rng = random.Random(seed * 1_000_003 + chunk)
    random_ = rng.random
    la_weights = world.la_cum_weights
    retention = settings.RETENTION_PERIOD
    child_t, name_t, key_t, address_t, involvement_t, access_t = (tabs[k] for k in (
        "child", "name", "key", "address", "involvement", "access"))
    surnames, surname_weights = world.family
    permission = world.permission_id
    age_days = 18 * 365 + 4
    for child_id in range(first_id, first_id + count):
        sex = "F" if random_() < 0.49 else "M"
        given_pool, given_weights = world.given[sex]
        given = first_given = rng.choices(given_pool, cum_weights=given_weights)[0]
        if random_() < 0.35:
            given = f"{given} {rng.choices(given_pool, cum_weights=given_weights)[0]}"
        family = rng.choices(surnames, cum_weights=surname_weights)[0]
        if random_() < 0.06:
            family = f"{family}-{rng.choices(surnames, cum_weights=surname_weights)[0]}"
        age = rng.randint(0, age_days)
        dob = today - timedelta(days=age)
        la_id, districts, _ = rng.choices(world.las, cum_weights=la_weights)[0]
        postcode = _postcode(rng, districts)
        parts = _postcode_parts(postcode[:-2] + "AA")
        district = parts.split("\t", 1)[0]
        shielded = random_() < 0.003
        last_activity = now - timedelta(seconds=rng.randint(0, 330 * 86400))
        school_age = age > 4 * 365 and random_() < 0.9
        child_t.line(
            f"{child_id}\t{reference_for(child_id, seed)}\t{given}\t{family}\t{dob}\t{sex}\t{nhs_number(child_id)}\t"
            f"{upn(child_id, 800 + la_id) if school_age else NULL}\t\t{rng.randint(1, 240)} {rng.choice(surnames)} Road\t"
            f"{postcode}\t{parts}\t{la_id}\t{'t' if shielded else 'f'}\tactive\t{last_activity}\t{last_activity}\t"
            f"{last_activity.date() + retention}\tf\t")
        key_district = "" if shielded else district
        # Names: the current one, and for some a previous family name (step-family, adoption).
        name_rows = [("current", family)]
        if random_() < 0.05:
            name_rows.append(("previous", rng.choices(surnames, cum_weights=surname_weights)[0]))
        given_fields = _given_fields(first_given)
        given_keys = _given_keys(given)
        for n, (kind, name_family) in enumerate(name_rows):
            name_id = child_id * 2 + n
            family_norm, family_phonetic = _family_fields(name_family)
            name_t.line(f"{name_id}\t{child_id}\t{kind}\t{given}\t{name_family}\t{given_fields.split(chr(9))[0]}\t"
                        f"{family_norm}\t{given_fields.split(chr(9))[1]}\t{family_phonetic}")
            prefix, suffix = f"{child_id}\t{name_id}\t", f"\t{dob}\t{key_district}"
            for family_token, family_key in _family_keys(name_family):
                for given_token, given_key in given_keys:
                    key_t.line(f"{prefix}{given_token}\t{family_token}\t{given_key}\t{family_key}{suffix}")
        # Address history: some children moved here from another area.
        moved_in = dob + timedelta(days=rng.randint(0, age))
        previous_la = None
        if random_() < 0.12 and moved_in > dob:
            previous_la, previous_districts, _ = rng.choices(world.las, cum_weights=la_weights)[0]
            address_t.line(f"{child_id}\t\t{_postcode(rng, previous_districts)}\t{previous_la}\t{dob}\t{moved_in}")
        address_t.line(f"{child_id}\t\t{postcode}\t{la_id}\t{moved_in if previous_la else dob}\t{NULL}")
        # Involvements: open ones in the current area; ended ones there or in the area before.
        open_orgs = set()
        for j in range(rng.choice(INVOLVEMENT_COUNTS)):
            moved_from = previous_la is not None and j == 0
            org_id, group_id, phone, email, services = rng.choice(world.organisations[previous_la if moved_from else la_id])
            service_id, _sensitive = rng.choice(services)
            started = dob + timedelta(days=rng.randint(0, age))
            ended_on = NULL
            if moved_from or random_() < 0.3:
                ended_on = started + timedelta(days=rng.randint(0, (today - started).days))
            involvement_t.line(f"{child_id}\t{org_id}\t{service_id}\t{phone}\t{email}\t{started}\t{ended_on}\t"
                               f"G{child_id}-{j}\t{last_activity}\t{last_activity}")
            if ended_on is NULL and org_id not in open_orgs:
                open_orgs.add(org_id)
                access_t.line(f"{child_id}\t{group_id}\t{permission}")


_WORLD: World | None = None


def _start_worker() -> None:
    """Each worker process: its own connection (never the parent's), the world read once."""
    global _WORLD
    connection.close()
    _WORLD = World.load()


def _worker(args) -> tuple[dict[str, int], int]:
    """Make one chunk and COPY it; returns rows per table and the children written."""
    seed, chunk, base_id, chunk_size, total, today, now = args
    if _WORLD is None:
        _start_worker()
    tabs = tables()
    first = base_id + chunk * chunk_size
    count = min(chunk_size, total - chunk * chunk_size)
    write_chunk(_WORLD, tabs, seed=seed, chunk=chunk, first_id=first, count=count, today=today, now=now)
    with connection.cursor() as django_cursor, transaction.atomic():
        return {key: table.flush(django_cursor.cursor) for key, table in tabs.items()}, count


# --- Indexes and constraints off, then on again ----------------------------------------------

BULK_MODELS = [Child, ChildName, NameKey, Address, Involvement, ChildGroupObjectPermission]


def drop_indexes(cursor, models=BULK_MODELS) -> int:
    """Save and drop these tables' indexes and constraints (primary keys first back on)."""
    names_ = [m._meta.db_table for m in models]
    cursor.execute("CREATE TABLE IF NOT EXISTS bench_generate_ddl (n serial PRIMARY KEY, tbl text, kind text, "
                   "name text, ddl text)")
    cursor.execute("SELECT count(*) FROM bench_generate_ddl")
    if cursor.fetchone()[0]:
        raise SystemExit("bench_generate_ddl holds saved indexes from an interrupted run: run with --restore first")
    # Constraints: primary keys first on the way back, then unique/check, then foreign keys.
    cursor.execute("""
        SELECT c.conrelid::regclass::text, c.contype, c.conname, pg_get_constraintdef(c.oid)
        FROM pg_constraint c
        WHERE (c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('p', 'u', 'c', 'f'))
           OR (c.confrelid = ANY(%s::regclass[]) AND c.contype = 'f')
        ORDER BY CASE c.contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 WHEN 'c' THEN 2 ELSE 3 END, c.oid""", [names_, names_])
    constraints = cursor.fetchall()
    cursor.execute("""
        SELECT i.tablename, i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.tablename = ANY(%s) AND i.indexname NOT IN (
            SELECT conname FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]))""", [names_, names_])
    indexes = cursor.fetchall()
    for table, kind, name, ddl in constraints:
        cursor.execute("INSERT INTO bench_generate_ddl (tbl, kind, name, ddl) VALUES (%s, %s, %s, %s)",
                       [table, "constraint", name, f"ALTER TABLE {table} ADD CONSTRAINT {name} {ddl}"])
    for table, name, ddl in indexes:
        cursor.execute("INSERT INTO bench_generate_ddl (tbl, kind, name, ddl) VALUES (%s, %s, %s, %s)",
                       [table, "index", name, ddl])
    for table, kind, name, _ in reversed(constraints):
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name} CASCADE")
    for _, name, _ in indexes:
        cursor.execute(f"DROP INDEX IF EXISTS {name}")
    return len(constraints) + len(indexes)


def restore_indexes(cursor, progress=print) -> int:
    """Build every saved constraint and index again, primary keys first, then forget them."""
    cursor.execute("SET maintenance_work_mem = '1GB'")
    cursor.execute("SELECT n, name, ddl FROM bench_generate_ddl ORDER BY CASE kind WHEN 'constraint' THEN 0 "
                   "ELSE 1 END, n")
    rows = cursor.fetchall()
    # Constraints were saved in dependency order (p, u, c, f); indexes after.
    for n, name, ddl in rows:
        started = time.perf_counter()
        # A partitioned table's index definition reads "ON ONLY parent": that builds an empty, invalid
        # parent index and none on the partitions. Built plainly, it is built on every partition.
        cursor.execute(ddl.replace(" ON ONLY ", " ON ", 1))
        cursor.execute("DELETE FROM bench_generate_ddl WHERE n = %s", [n])
        progress(f"  built {name} in {time.perf_counter() - started:.1f}s")
    cursor.execute("DROP TABLE bench_generate_ddl")
    return len(rows)


def reset_sequences(cursor) -> None:
    for model in BULK_MODELS:
        table = model._meta.db_table
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                       f"GREATEST((SELECT max(id) FROM {table}), 1))")


# --- Audit events --------------------------------------------------------------------------

# (action, weight, has a child, outcome): searches and record views dominate a real log.
AUDIT_MIX = [("child.search", 40, False, "allowed"), ("child.view", 30, True, "allowed"),
             ("child.view", 1, True, "denied"), ("login.success", 12, False, "allowed"),
             ("logout", 8, False, "allowed"), ("grant.organisation", 6, True, "allowed"),
             ("grant.access_request", 2, True, "allowed"), ("grant.break_glass", 1, True, "allowed")]
AUDIT_ACTOR_BASE = 1_000_000_000  # generated actors' ids: no user has them (actor_id is not a foreign key)
AUDIT_COLUMNS = ["occurred_at", "chain", "seq", "actor_id", "actor_username", "actor_role", "organisation_id",
                 "local_authority_id", "action", "child_ref", "child_local_authority_id", "shielded", "reason",
                 "request_id", "ip_address", "user_agent", "outcome", "details", "prev_hash", "hash"]


@dataclass
class AuditWorld:
    """What generated events point at: organisations (id, LA) and a sample of children (ref, LA, shielded)."""

    organisations: list[tuple[int, int]]
    children: list[tuple[str, int, bool]]
    actors: int

    @classmethod
    def load(cls, *, events: int, seed: int) -> "AuditWorld":
        organisations = list(Organisation.objects.order_by("pk").values_list("pk", "local_authority_id"))
        from django.db.models import Max, Min

        bounds = Child.objects.aggregate(low=Min("id"), high=Max("id"))
        children = []
        if bounds["low"] is not None:
            span = range(bounds["low"], bounds["high"] + 1)
            ids = random.Random(seed).sample(span, min(len(span), 100_000))
            children = list(Child.objects.filter(pk__in=ids).order_by("pk").values_list(
                "reference", "local_authority_id", "shielded"))
        return cls(organisations=organisations, children=children, actors=min(100_000, max(50, events // 10_000)))


def _audit_chain(args) -> int:
    """Append ``count`` events to one chain, ``chunk`` per transaction, the head locked while each is
    written; times ascend with seq from after the chain's last event to ``end``. Returns events written."""
    from audit.models import AccessEvent, ChainHead
    from audit.services import compute_hash

    world, seed, chain, count, start, end, chunk = args
    connection.close()  # a forked worker opens its own connection
    rng = random.Random(seed * 7_919 + chain)
    weights = _cumulative(w for _, w, _, _ in AUDIT_MIX)
    last = AccessEvent.objects.filter(chain=chain).order_by("-seq").values_list("occurred_at", flat=True).first()
    if last is not None:
        start = max(start, last + timedelta(microseconds=1))
    step = (end - start) / max(count, 1)
    written = 0
    while written < count:
        n = min(chunk, count - written)
        with transaction.atomic(), connection.cursor() as django_cursor:
            head = ChainHead.objects.select_for_update().get(pk=chain)
            seq, prev_hash, lines = head.last_seq, head.last_hash, []
            for i in range(written, written + n):
                action, _, with_child, outcome = AUDIT_MIX[rng.choices(range(len(AUDIT_MIX)), cum_weights=weights)[0]]
                actor = rng.randrange(world.actors)
                org_id, la_id = world.organisations[actor % len(world.organisations)]
                ref, child_la, shielded = (rng.choice(world.children) if with_child and world.children
                                           else ("", None, False))
                details = {"mode": rng.choice(["plain", "fuzzy"]), "results": rng.randint(0, 20)} \
                    if action == "child.search" else {}
                seq += 1
                event = AccessEvent(
                    occurred_at=start + step * i + step * rng.random() * 0.5, chain=chain, seq=seq,
                    actor_id=AUDIT_ACTOR_BASE + actor, actor_username=f"generated-{actor}",
                    actor_role="Practitioner", organisation_id=org_id, local_authority_id=la_id, action=action,
                    child_ref=ref, child_local_authority_id=child_la, shielded=shielded,
                    reason="Serious concern reported out of hours" if action == "grant.break_glass" else "",
                    request_id=f"{rng.getrandbits(128):032x}", ip_address=f"192.0.2.{actor % 250 + 1}",
                    user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64)", outcome=outcome, details=details,
                    prev_hash=prev_hash)
                event.hash = prev_hash = compute_hash(event)
                lines.append("\t".join(_text(v) for v in (
                    event.occurred_at.isoformat(), chain, seq, event.actor_id, event.actor_username,
                    event.actor_role, org_id, la_id, action, ref, child_la, shielded, event.reason,
                    event.request_id, event.ip_address, event.user_agent, outcome,
                    json.dumps(details, sort_keys=True), event.prev_hash, event.hash)) + "\n")
            with django_cursor.cursor.copy(
                    f"COPY {AccessEvent._meta.db_table} ({', '.join(AUDIT_COLUMNS)}) FROM STDIN") as copy:
                copy.write("".join(lines))
            last_id = AccessEvent.objects.filter(chain=chain, seq=seq).values_list("id", flat=True).get()
            ChainHead.objects.filter(pk=chain).update(last_seq=seq, last_hash=prev_hash, last_event_id=last_id)
        written += n
    return written


def generate_audit_events(*, events: int, seed: int, months: int = 12, workers: int = 2, chunk: int = 50_000,
                          progress=True) -> dict:
    """``events`` AccessEvents over the last ``months`` months, spread over every chain (a worker a
    chain at a time), hashed with ``audit.services.compute_hash`` so ``verify_audit_chain`` passes.
    Monthly partitions are made first, so none lands in the default partition."""
    from audit import partitions
    from audit.services import ensure_chain_heads

    started = time.perf_counter()
    ensure_chain_heads()
    end = datetime.now(dt_timezone.utc)
    start = end - timedelta(days=round(months * 30.44))
    partitions.ensure_month_partitions(first_month=start.date().replace(day=1), months=months + 4)
    world = AuditWorld.load(events=events, seed=seed)
    if not world.organisations:
        raise SystemExit("no organisations: generate children first")
    chains = settings.AUDIT_CHAINS
    tasks = [(world, seed, chain, events // chains + (1 if chain <= events % chains else 0), start, end, chunk)
             for chain in range(1, chains + 1)]
    connection.close()
    if workers == 1:
        counts = list(map(_audit_chain, tasks))
    else:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            counts = pool.map(_audit_chain, tasks)
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_accessevent")
    seconds = time.perf_counter() - started
    if progress:
        print(f"  {sum(counts):,} audit events in {seconds:.1f}s over {chains} chains", flush=True)
    return {"audit_events": sum(counts), "audit_seconds": round(seconds, 1),
            "audit_events_per_second": round(sum(counts) / max(seconds, 1e-9))}


# --- The run ---------------------------------------------------------------------------------

def generate(*, children: int, seed: int, workers: int = 2, chunk_size: int = 20_000, progress=True,
             audit_events: int = 0, audit_months: int = 12) -> dict:
    from django.core.management import call_command
    from tqdm import tqdm

    if connection.vendor != "postgresql":
        raise SystemExit("bench/generate.py writes with PostgreSQL's COPY: set DATABASE_URL to a PostgreSQL database")
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    ensure_reference_data()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(max(id), 0) FROM {Child._meta.db_table}")
        base_id = cursor.fetchone()[0] + 1
        cursor.execute(f"SELECT COALESCE(max(id), 0) FROM {ChildName._meta.db_table}")
        if cursor.fetchone()[0] >= base_id * 2:
            raise SystemExit("name ids would collide: generate into a database without other children")
        dropped = drop_indexes(cursor)
    today, now = date.today(), datetime.now(dt_timezone.utc)
    tasks = [(seed, chunk, base_id, chunk_size, children, today, now)
             for chunk in range((children + chunk_size - 1) // chunk_size)]
    load_started = time.perf_counter()
    counts: dict[str, int] = {}
    bar = tqdm(total=children, unit="child", disable=not progress, smoothing=0.05)
    if workers == 1:
        results = map(_worker, tasks)
    else:
        connection.close()  # never share the parent's connection with forked workers
        pool = multiprocessing.get_context("fork").Pool(workers, initializer=_start_worker)
        results = pool.imap_unordered(_worker, tasks)
    for rows, written in results:
        for key, value in rows.items():
            counts[key] = counts.get(key, 0) + value
        bar.update(written)
    bar.close()
    if workers != 1:
        pool.close()
        pool.join()
    load_seconds = time.perf_counter() - load_started
    connection.close()
    index_started = time.perf_counter()
    with connection.cursor() as cursor:
        restore_indexes(cursor, progress=print if progress else (lambda *_: None))
        reset_sequences(cursor)
        cursor.execute("ANALYZE")
    index_seconds = time.perf_counter() - index_started
    rows = sum(counts.values())
    audit = (write_audit(audit_events, seed=seed, months=audit_months, workers=workers, progress=progress)
             if audit_events else {})
    return {**audit, "children": children, "seed": seed, "workers": workers, "rows": counts, "total_rows": rows,
            "load_seconds": round(load_seconds, 1), "rows_per_second": round(rows / max(load_seconds, 1e-9)),
            "index_seconds": round(index_seconds, 1), "dropped_indexes_and_constraints": dropped,
            "total_seconds": round(time.perf_counter() - started, 1), "machine": platform.node(),
            "cpus": os.cpu_count(), **audit}


def write_audit(events: int, *, seed: int, months: int, workers: int, progress=True) -> dict:
    """The access log with its indexes off while it is written (``generate_audit_events``), then
    rebuilt: at tens of millions of rows, nine partitioned indexes kept up row by row cost more
    than building them once."""
    from audit.models import AccessEvent

    say = print if progress else (lambda *_: None)
    with connection.cursor() as cursor:
        drop_indexes(cursor, [AccessEvent])
    result = generate_audit_events(events=events, seed=seed, months=months, workers=workers, progress=progress)
    connection.close()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        restore_indexes(cursor, progress=say)
        cursor.execute(f"ANALYZE {AccessEvent._meta.db_table}")
    return {**result, "audit_index_seconds": round(time.perf_counter() - started, 1)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=20_000)
    parser.add_argument("--audit-events", type=int, default=0, help="AccessEvents to write over the last months")
    parser.add_argument("--audit-months", type=int, default=12)
    parser.add_argument("--restore", action="store_true", help="only rebuild indexes saved by an interrupted run")
    args = parser.parse_args(argv)
    if args.restore:
        with connection.cursor() as cursor:
            restore_indexes(cursor)
        return
    result = generate(children=args.children, seed=args.seed, workers=args.workers, chunk_size=args.chunk,
                      audit_events=args.audit_events, audit_months=args.audit_months)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
