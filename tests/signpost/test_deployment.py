"""The production shape is described correctly: docker-compose, the Dockerfile, the database roles'
init script, and the Celery app. Docker cannot run here, so the compose file is read as data; the
init script is run for real against PostgreSQL when the suite runs there."""

import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
LONG_RUNNING = ("db", "redis", "mailpit", "web", "worker", "beat")
APP = ("web", "worker", "beat")


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def user_of(url: str) -> str:
    """The user of a compose-interpolated database URL (``${VAR:?...}`` passwords left in)."""
    return urlsplit(re.sub(r"\$\{[^}]*\}", "secret", url)).username


def test_docker_compose_runs_postgres_redis_mail_a_migrate_step_web_one_worker_and_one_beat(services):
    assert set(services) == {"db", "redis", "mailpit", "migrate", "web", "worker", "beat"}
    for name in APP:
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"].startswith("redis://")
    assert "gunicorn" in " ".join(services["web"]["command"])
    assert services["worker"]["command"][:4] == ["celery", "-A", "signpost", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "signpost", "beat"]
    assert "replicas" not in str(services["beat"]) and "scale" not in str(services["beat"])


# Two database roles -----------------------------------------------------------------------

def test_web_worker_and_beat_connect_as_the_runtime_role_and_never_see_the_owners_password(services):
    for name in APP:
        env = services[name]["environment"]
        assert user_of(env["DATABASE_URL"]) == "signpost_app", name
        assert "MIGRATE_DATABASE_URL" not in env and "SIGNPOST_OWNER_PASSWORD" not in str(env), name


def test_a_one_shot_migrate_step_runs_as_the_owner_and_grants_the_runtime_role(services):
    migrate = services["migrate"]
    assert migrate["command"] == ["python", "manage.py", "migrate_as_owner"]
    assert user_of(migrate["environment"]["MIGRATE_DATABASE_URL"]) == "signpost_owner"
    assert user_of(migrate["environment"]["DATABASE_URL"]) == "signpost_app"  # whom to grant
    assert migrate.get("restart", "no") == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"


def test_web_worker_and_beat_start_only_after_the_migrate_step_succeeded(services):
    for name in APP:
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["db"]["condition"] == depends["redis"]["condition"] == "service_healthy", name
    assert not any("migrate" in str(services[name]["command"]) for name in APP)


def test_the_db_service_mounts_the_roles_init_script(services):
    db = services["db"]
    mounts = {src.split(":")[0]: src.split(":")[1] for src in db["volumes"] if src.startswith("./")}
    assert mounts["./deploy/postgres/init-roles.sh"].startswith("/docker-entrypoint-initdb.d/")
    assert mounts["./deploy/postgres/init-roles.sql"] == "/deploy/postgres/init-roles.sql"
    script = (ROOT / "deploy/postgres/init-roles.sh").read_text()
    assert "/deploy/postgres/init-roles.sql" in script and os.access(ROOT / "deploy/postgres/init-roles.sh", os.X_OK)
    assert {"SIGNPOST_OWNER_PASSWORD", "SIGNPOST_APP_PASSWORD"} <= set(db["environment"])
    assert db["environment"]["POSTGRES_USER"] == "postgres"  # only bootstraps; the app never uses it


@pytest.mark.skipif(connection.vendor != "postgresql" or not shutil.which("psql"),
                    reason="runs the init script with psql against the PostgreSQL the suite uses")
def test_the_init_script_makes_an_owner_that_creates_and_a_runtime_role_that_cannot(db):
    suffix = secrets.token_hex(3)
    names = {"db": f"sp_init_{suffix}", "owner": f"sp_owner_{suffix}", "app": f"sp_app_{suffix}"}
    settings_dict = connection.settings_dict
    base = ["psql", "-h", settings_dict["HOST"] or "127.0.0.1", "-p", str(settings_dict["PORT"] or 5432),
            "-v", "ON_ERROR_STOP=1", "-q"]
    env = {**os.environ, "PGPASSWORD": settings_dict.get("PASSWORD") or ""}

    def psql(user, database, *args):
        return subprocess.run([*base, "-U", user, "-d", database, *args], capture_output=True, text=True, env=env)

    variables = [f"-v{k}={v}" for k, v in names.items()] + ["-vowner_password=o-pw", "-vapp_password=a-pw"]
    try:
        for _ in range(2):  # safe to run again
            run = psql(settings_dict["USER"], "postgres", *variables, "-f", str(ROOT / "deploy/postgres/init-roles.sql"))
            assert run.returncode == 0, run.stderr
        env["PGPASSWORD"] = "a-pw"
        refused = psql(names["app"], names["db"], "-c", "CREATE TABLE sneaky (id integer)")
        assert refused.returncode != 0 and "permission denied" in refused.stderr
        env["PGPASSWORD"] = "o-pw"
        allowed = psql(names["owner"], names["db"], "-c", "CREATE TABLE owned (id integer)")
        assert allowed.returncode == 0, allowed.stderr
        env["PGPASSWORD"] = settings_dict.get("PASSWORD") or ""
        flags = psql(settings_dict["USER"], "postgres", "-At", "-c",
                     f"SELECT rolname, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
                     f"WHERE rolname IN ('{names['owner']}', '{names['app']}') ORDER BY 1")
        assert flags.stdout.split() == [f"{names['app']}|f|f|f", f"{names['owner']}|f|f|f"]
    finally:
        env["PGPASSWORD"] = settings_dict.get("PASSWORD") or ""
        psql(settings_dict["USER"], "postgres", "-c", f"DROP DATABASE IF EXISTS {names['db']}")
        psql(settings_dict["USER"], "postgres", "-c", f"DROP ROLE IF EXISTS {names['app']}")
        psql(settings_dict["USER"], "postgres", "-c", f"DROP ROLE IF EXISTS {names['owner']}")


# Mail, alerts, anchors ------------------------------------------------------------------

def test_mail_goes_to_mailpit_by_default_and_the_smtp_variables_can_point_elsewhere(services):
    env = services["web"]["environment"]
    assert services["mailpit"]["image"].startswith("axllent/mailpit")
    assert env["EMAIL_HOST"] == "${EMAIL_HOST:-mailpit}" and env["EMAIL_PORT"] == "${EMAIL_PORT:-1025}"
    for name in ("EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS", "DEFAULT_FROM_EMAIL"):
        assert name in env
    assert any(port.endswith(":8025") for port in services["mailpit"]["ports"])


def test_admin_emails_is_required_by_the_compose_file(services):
    for name in (*APP, "migrate"):
        assert services[name]["environment"]["ADMIN_EMAILS"].startswith("${ADMIN_EMAILS:?"), name


def test_the_anchor_file_lives_on_its_own_named_volume_shared_by_its_writers(compose, services):
    anchor_file = services["web"]["environment"]["AUDIT_ANCHOR_FILE"]
    folder = str(Path(anchor_file).parent)
    for name in ("web", "worker"):  # the writer's own anchors, and the every-minute task
        mounts = dict(v.split(":")[:2][::-1] for v in services[name]["volumes"])
        assert mounts[folder] == "audit-anchors", name
    assert "audit-anchors" in compose["volumes"]
    assert all(not v.startswith("audit-anchors") for v in services["db"]["volumes"])
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert folder in dockerfile  # made in the image, owned by the app user, so the new volume is writable


# Staying up -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", LONG_RUNNING)
def test_every_long_running_service_restarts_and_has_a_health_check(services, name):
    service = services[name]
    assert service["restart"] == "unless-stopped"
    assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL") and len(service["healthcheck"]["test"]) > 1


def test_the_web_health_check_asks_the_apps_own_health_endpoint(services):
    from django.urls import reverse

    assert f"127.0.0.1:8000{reverse('healthz')}" in " ".join(services["web"]["healthcheck"]["test"])


def test_gunicorn_is_execd_under_an_init_so_a_dead_master_takes_its_workers_with_it(services):
    web = services["web"]
    assert web["init"] is True
    command = web["command"]
    shell = command[-1] if command[:2] == ["sh", "-c"] else None
    if shell:
        assert re.search(r"(^|&&|;)\s*exec gunicorn ", shell), "gunicorn must replace the shell (exec)"
    else:
        assert command[0] == "gunicorn"
    cmd = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD")][-1]
    assert cmd.startswith('CMD ["gunicorn"')  # exec form: no shell in between


def test_the_celery_app_reads_django_settings(settings):
    from signpost.celery import app

    assert app.conf.task_always_eager == settings.CELERY_TASK_ALWAYS_EAGER
    assert app.conf.task_acks_late is True and app.conf.task_reject_on_worker_lost is True
