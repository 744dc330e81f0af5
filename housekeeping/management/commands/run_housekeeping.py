"""Run housekeeping jobs by hand, in this process, with a progress bar and a summary."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from housekeeping.jobs import JOBS, JobFailed, run_job
from housekeeping.models import JobRun


class Command(BaseCommand):
    help = "Run housekeeping jobs now (all of them, or those named with --job). Each run is recorded as a JobRun."

    def add_arguments(self, parser):
        parser.add_argument(
            "--job", action="append", dest="jobs", choices=list(JOBS), metavar="NAME",
            help=f"run only this job (repeatable): {', '.join(JOBS)}",
        )
        parser.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")

    def handle(self, *args, jobs=None, dry_run=False, verbosity=1, **options):
        failed = []
        summary = []
        for name in jobs or list(JOBS):
            with tqdm(desc=name, unit=" rows", file=self.stderr, disable=verbosity < 1, leave=False) as bar:
                try:
                    run, result = run_job(
                        name, dry_run=dry_run, trigger=JobRun.Trigger.COMMAND, on_progress=_progress_on(bar)
                    )
                except JobFailed as exc:
                    failed.append(name)
                    summary.append((name, JobRun.Outcome.FAILED, "", str(exc)))
                    continue
            for line in result.listing:
                self.stdout.write(f"{name}: would change {line}" if dry_run else f"{name}: {line}")
            if result.outcome == JobRun.Outcome.FAILED:
                failed.append(name)
            counts = ", ".join(f"{key} {value}" for key, value in run.counts.items())
            detail = "; ".join(part for part in (result.summary, counts) if part)
            summary.append((name, run.outcome, f"{run.duration.total_seconds():.1f} s", detail))
        self._print_summary(summary, dry_run=dry_run)
        if failed:
            raise CommandError(f"Failed: {', '.join(failed)} (see the job runs in the admin)")

    def _print_summary(self, rows, *, dry_run):
        self.stdout.write(self.style.MIGRATE_HEADING("Dry run: nothing was changed" if dry_run else "Housekeeping"))
        width = max(len(name) for name, *_ in rows)
        for name, outcome, duration, detail in rows:
            style = self.style.ERROR if outcome == JobRun.Outcome.FAILED else self.style.SUCCESS
            self.stdout.write(f"  {name:<{width}}  {style(f'{outcome:<9}')}  {duration:>7}  {detail}")


def _progress_on(bar):
    def progress(done, total):
        bar.total = total
        bar.n = done
        bar.refresh()

    return progress
