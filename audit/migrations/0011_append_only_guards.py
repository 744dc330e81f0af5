"""Triggers that refuse UPDATE, DELETE (and, on PostgreSQL, TRUNCATE) on the audit tables.

Plain SQL for each database (see ``audit.guards`` for why not django-pgtrigger, and
for the one narrow way through that the test suite's flush uses).
"""

from django.db import migrations


def install(apps, schema_editor):
    from audit import guards

    guards.install(schema_editor.connection, tables=guards.PROTECTED_TABLES)


def uninstall(apps, schema_editor):
    from audit import guards

    guards.uninstall(schema_editor.connection, tables=guards.PROTECTED_TABLES)


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0010_chained_partitioned_events"),
    ]

    operations = [
        migrations.RunPython(install, uninstall),
    ]
