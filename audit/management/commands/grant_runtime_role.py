"""Grant the runtime database role what the application needs, and no more (PostgreSQL)."""

from django.core.management.base import BaseCommand, CommandError

from audit import roles


class Command(BaseCommand):
    help = ("Run as the owner after migrating: grant the runtime role DML on ordinary tables, SELECT/INSERT "
            "on the audit tables, SELECT only on audit partitions, and no TRUNCATE/REFERENCES/TRIGGER anywhere.")

    def add_arguments(self, parser):
        parser.add_argument("--role", required=True, help="The runtime role (the user of DATABASE_URL).")

    def handle(self, *args, role, **options):
        try:
            counts = roles.grant_runtime_role(role)
        except roles.RoleError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(self.style.SUCCESS(
            f"Granted {role}: {counts['tables']} tables, {counts['audit_tables']} audit tables (append-only), "
            f"{counts['sequences']} sequences; {counts['partitions']} partitions read-only."))
