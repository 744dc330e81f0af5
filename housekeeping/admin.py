from django.contrib import admin

from audit.admin import ReadOnlyAdmin  # records of what happened: nobody edits them here
from housekeeping.models import AccessReminder, JobRun


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = ["job", "started_at", "duration_shown", "outcome", "heartbeat_at", "counts_shown", "error_summary",
                    "dry_run", "trigger"]
    list_filter = ["job", "outcome", "trigger", "dry_run"]
    date_hierarchy = "started_at"

    @admin.display(description="duration", ordering="duration")
    def duration_shown(self, run):
        if run.duration is None:
            return "–"
        return f"{run.duration.total_seconds():.1f} s"

    @admin.display(description="counts")
    def counts_shown(self, run):
        return ", ".join(f"{name} {value}" for name, value in run.counts.items()) or "–"


@admin.register(AccessReminder)
class AccessReminderAdmin(ReadOnlyAdmin):
    list_display = ["practitioner", "kind", "expires_on", "sent_at"]
    list_filter = ["kind"]
    date_hierarchy = "sent_at"
