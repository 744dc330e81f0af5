"""Append a signed anchor of every audit chain head to the anchor file (scheduled every 10 minutes)."""

from django.core.management.base import BaseCommand, CommandError

from audit import integrity


class Command(BaseCommand):
    help = "Verify the events since the last anchor, then append a signed anchor of the chain heads."

    def add_arguments(self, parser):
        parser.add_argument("--anchor-file", help="Where to append (default: AUDIT_ANCHOR_FILE).")

    def handle(self, *args, anchor_file=None, **options):
        try:
            line = integrity.anchor(path=anchor_file)
        except integrity.ChainBroken as broken:
            raise CommandError(f"Not anchored: audit chain BROKEN: {broken}") from broken
        heads = ", ".join(f"chain {chain} at {seq}" for chain, seq, _ in line["heads"] if seq) or "no events yet"
        self.stdout.write(self.style.SUCCESS(f"Anchored {heads}."))
