"""Background jobs for CSV uploads: thin wrappers, safe to run twice (the services
only act on an upload still in the matching state, and commit resumes where it stopped)."""

from celery import shared_task

from feeds import services


@shared_task(acks_late=True)
def check_csv_upload(upload_id: int) -> int:
    return services.check_upload(upload_id)


@shared_task(acks_late=True)
def commit_csv_upload(upload_id: int) -> int:
    return services.process_upload(upload_id)
