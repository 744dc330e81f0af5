"""Create the audit table's monthly partitions ahead of time (PostgreSQL; scheduled daily)."""

from django.core.management.base import BaseCommand
from django.db import connection

from audit import partitions


class Command(BaseCommand):
    help = "Create this month's and the next months' audit partitions (PostgreSQL only)."

    def add_arguments(self, parser):
        parser.add_argument("--months-ahead", type=int, default=3)

    def handle(self, *args, months_ahead, **options):
        if connection.vendor != "postgresql":
            self.stdout.write("The audit table is partitioned only on PostgreSQL; nothing to do.")
            return
        made = partitions.ensure_upcoming(months_ahead=months_ahead)
        self.stdout.write(self.style.SUCCESS(f"Created {len(made)} partitions: {', '.join(made)}" if made
                                             else "All partitions already exist."))
