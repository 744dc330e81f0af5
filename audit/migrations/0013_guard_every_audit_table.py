"""Every audit table append-only (issue 17): anomaly reviews, daily search tallies,
django-auditlog's field history (purged only through ``audit_purge_field_history``, for
records that no longer exist) and the chain heads (forward only, never deleted).

See ``audit.guards`` and docs/decisions.md ("Every audit table is append-only").
"""

from django.db import migrations

TABLES = ("audit_anomalyreview", "audit_dailysearchcount", "audit_dailysearchtally", "auditlog_logentry",
          "audit_chainhead")


def install(apps, schema_editor):
    from audit import guards

    guards.install(schema_editor.connection, tables=TABLES)


def uninstall(apps, schema_editor):
    from audit import guards

    guards.uninstall(schema_editor.connection, tables=TABLES)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS audit_purge_field_history(bigint[])")


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0012_daily_search_counts"),
        ("auditlog", "0017_add_actor_email"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(install, uninstall),
    ]
