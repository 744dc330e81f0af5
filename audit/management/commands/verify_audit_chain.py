"""Check the audit log end to end: hashes, links, the append-only triggers, every anchor."""

from django.core.management.base import BaseCommand, CommandError

from audit import integrity


class Command(BaseCommand):
    help = "Verify every audit chain and every anchor in the anchor file. Exits non-zero and names the first broken event."

    def add_arguments(self, parser):
        parser.add_argument("--anchor-file", help="Anchor file to check against (default: AUDIT_ANCHOR_FILE).")

    def handle(self, *args, anchor_file=None, **options):
        report = integrity.verify(anchor_file=anchor_file)
        for warning in report.warnings:
            self.stderr.write(self.style.WARNING(f"Warning: {warning}"))
        if not report.ok:
            for item in report.breaks:
                self.stderr.write(f"Broken: {item}")
            raise CommandError(f"Audit chain BROKEN at {report.first_break}")
        in_use = sum(1 for seq, _ in report.chains.values() if seq)
        anchored = (f", matches {report.anchors_checked} anchors checked, the newest of {report.anchor['at']}"
                    if report.anchor else "")
        self.stdout.write(self.style.SUCCESS(
            f"Audit chain OK: {report.events_checked} events in {in_use} chains{anchored}."))
