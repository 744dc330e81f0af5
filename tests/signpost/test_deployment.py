"""The production shape is described correctly: docker-compose and the Celery app."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_docker_compose_runs_postgres_redis_web_one_worker_and_one_beat():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "redis", "web", "worker", "beat"}
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"].startswith("redis://")
        assert set(services[name]["depends_on"]) == {"db", "redis"}
    assert "gunicorn" in services["web"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "signpost", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "signpost", "beat"]
    assert "replicas" not in str(services["beat"])


def test_the_celery_app_reads_django_settings(settings):
    from signpost.celery import app

    assert app.conf.task_always_eager == settings.CELERY_TASK_ALWAYS_EAGER
    assert app.conf.task_acks_late is True and app.conf.task_reject_on_worker_lost is True
