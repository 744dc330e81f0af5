"""Celery app. Broker from REDIS_URL; with none, settings make every task run eagerly."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signpost.settings")

app = Celery("signpost")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
