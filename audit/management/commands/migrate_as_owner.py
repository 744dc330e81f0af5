"""The deployment's migrate step: migrate as the owner role, then grant the runtime role.

``MIGRATE_DATABASE_URL`` names the owner (same database as ``DATABASE_URL``); ``DATABASE_URL``
names the runtime role the web app, worker and beat use. Without ``MIGRATE_DATABASE_URL`` this is
plain ``migrate`` (the embedded setup, or a deployment that has not split the roles yet).
"""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections


class Command(BaseCommand):
    help = "Apply migrations as the owner role (MIGRATE_DATABASE_URL), then grant the runtime role (DATABASE_URL)."

    def handle(self, *args, **options):
        owner = settings.MIGRATE_DATABASE
        connection = connections["default"]
        if owner is None:
            self.stdout.write("MIGRATE_DATABASE_URL is not set: migrating as the DATABASE_URL user, granting nothing.")
            call_command("migrate", interactive=False, verbosity=options["verbosity"])
            return
        runtime = connection.settings_dict
        for key in ("ENGINE", "NAME", "HOST", "PORT"):
            if str(owner.get(key) or "") != str(runtime.get(key) or ""):
                raise CommandError(f"MIGRATE_DATABASE_URL and DATABASE_URL name different databases ({key} differs).")
        role = runtime["USER"]
        if not role or role == owner.get("USER"):
            raise CommandError("DATABASE_URL must name the runtime role, not the owner of MIGRATE_DATABASE_URL.")
        connection.close()
        saved = {key: runtime.get(key) for key in ("USER", "PASSWORD")}
        runtime.update(USER=owner["USER"], PASSWORD=owner.get("PASSWORD", ""))
        try:
            call_command("migrate", interactive=False, verbosity=options["verbosity"])
            call_command("ensure_audit_partitions", stdout=self.stdout)
            call_command("grant_runtime_role", role=role, stdout=self.stdout)
        finally:
            connection.close()
            runtime.update(saved)
