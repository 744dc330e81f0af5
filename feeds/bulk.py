"""Insert and update many rows in one statement, fast on PostgreSQL.

Django's ``bulk_create`` on PostgreSQL sends each column as an array literal that
psycopg quotes in Python, character by character (~170 µs per audit-history row
here); ``COPY`` formats rows in psycopg's C code (~25 µs). ``bulk_update`` builds a
``CASE`` with one branch per row for every column, which PostgreSQL evaluates for
every row: quadratic in the batch. So on PostgreSQL ``insert`` uses COPY (ids
drawn from the table's sequence first, when the caller needs them) and ``update``
one ``UPDATE ... FROM UNNEST(...)``; elsewhere (SQLite) Django's own methods.

Like the Django methods, these send no model signals: callers write change
history themselves (``feeds.history``). Database errors (a unique or check
constraint) surface as Django's ``IntegrityError``/``DatabaseError``.
"""

from functools import cache

from django.db import connection

# Field types whose Python value psycopg writes as is; the others go through Django's
# get_db_prep_save (JSON, IP addresses, decimals, ...).
_PLAIN = {"AutoField", "BigAutoField", "BigIntegerField", "BooleanField", "CharField", "DateField",
          "DateTimeField", "EmailField", "ForeignKey", "IntegerField", "OneToOneField", "PositiveIntegerField",
          "PositiveSmallIntegerField", "SlugField", "SmallIntegerField", "TextField"}


_NOTHING = object()


@cache
def _layout(model) -> list[tuple[str, object]]:
    return [(f.attname, f.get_default) for f in model._meta.concrete_fields]


def build(model, values: dict):
    """An unsaved instance from {attname: value}, other fields at their defaults. Positional
    construction: Django's keyword ``__init__`` costs more than the row it makes (~25 µs)."""
    return model(*[values[attname] if attname in values else default() for attname, default in _layout(model)])


def insert(objs: list, *, with_ids: bool = False) -> None:
    """INSERT every instance (all of one model). ``with_ids``: set each instance's pk."""
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql" or len(objs) == 1:  # one row: a plain INSERT ... RETURNING
        model.objects.bulk_create(objs)
        return
    meta = model._meta
    table = connection.ops.quote_name(meta.db_table)
    if with_ids:
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                           [meta.db_table, meta.pk.column, len(objs)])
            for obj, (pk,) in zip(objs, cursor.fetchall()):
                obj.pk = pk
    fields = [f for f in meta.concrete_fields if with_ids or not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    plan = [(f, f.get_internal_type() not in _PLAIN or getattr(f, "auto_now", False)
             or getattr(f, "auto_now_add", False)) for f in fields]
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            last = [(_NOTHING, None)] * len(plan)  # per column: the previous row's value and its conversion
            for obj in objs:
                row = []
                for n, (f, convert) in enumerate(plan):
                    if not convert:
                        row.append(getattr(obj, f.attname))
                        continue
                    value = f.pre_save(obj, True)
                    if value is not last[n][0]:  # a batch shares one object (its note, the caller's IP)
                        last[n] = (value, f.get_db_prep_save(value, connection))
                    row.append(last[n][1])
                copy.write_row(row)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = "default"


def update(objs: list, field_names: list[str]) -> None:
    """UPDATE ``field_names`` of every instance (all of one model) to its in-memory values."""
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, field_names, batch_size=100)
        return
    meta = model._meta
    fields = [meta.pk] + [meta.get_field(name) for name in field_names]
    qn = connection.ops.quote_name
    arrays = ", ".join(f"%s::{f.db_type(connection).split('(')[0]}[]" for f in fields)
    names = ", ".join(qn(f.column) for f in fields)
    assignments = ", ".join(f"{qn(f.column)} = v.{qn(f.column)}" for f in fields[1:])
    params = [[f.get_db_prep_save(getattr(obj, f.attname), connection) for obj in objs] for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {qn(meta.db_table)} AS t SET {assignments} FROM UNNEST({arrays}) AS v({names}) "
            f"WHERE t.{qn(meta.pk.column)} = v.{qn(meta.pk.column)}",
            params,
        )
