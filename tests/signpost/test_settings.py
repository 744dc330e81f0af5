"""Settings come from the environment: embedded by default, production shape when told."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from signpost.config import Config

ROOT = Path(__file__).resolve().parents[2]


def settings_in(env: dict) -> dict:
    """Import the settings module in a fresh interpreter with exactly ``env``; return key values."""
    code = (
        "import json, signpost.settings as s;"
        "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], 'name': str(s.DATABASES['default']['NAME']),"
        "'eager': s.CELERY_TASK_ALWAYS_EAGER, 'broker': s.CELERY_BROKER_URL, 'debug': s.DEBUG,"
        "'secure': s.SESSION_COOKIE_SECURE, 'idle': s.SESSION_COOKIE_AGE}))"
    )
    clean = {k: v for k, v in os.environ.items()
             if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SIGNPOST_DEBUG", "ADMIN_EMAILS",
                          "MIGRATE_DATABASE_URL"}}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True)
    if result.returncode:
        return {"error": result.stderr.strip().splitlines()[-1]}
    import json

    return json.loads(result.stdout)


def test_with_nothing_set_it_runs_embedded_on_sqlite_with_eager_tasks_and_debug_off(tmp_path):
    values = settings_in({"SIGNPOST_DATA_DIR": str(tmp_path)})
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["name"] == str(tmp_path / "signpost.sqlite3")
    assert values["eager"] is True and values["broker"] == "memory://"
    assert values["debug"] is False
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_database_and_redis_urls_switch_to_postgres_and_a_real_broker(tmp_path):
    values = settings_in({
        "SIGNPOST_DATA_DIR": str(tmp_path), "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/signpost",
        "REDIS_URL": "redis://127.0.0.1:6379/3", "SECRET_KEY": "x" * 50, "ADMIN_EMAILS": "ops@example.org",
    })
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["name"] == "signpost"
    assert values["eager"] is False and values["broker"] == "redis://127.0.0.1:6379/3"
    assert values["secure"] is True
    assert values["idle"] == 15 * 60


def test_production_without_a_secret_key_fails_with_a_message_naming_it(tmp_path):
    values = settings_in({"SIGNPOST_DATA_DIR": str(tmp_path), "DATABASE_URL": "postgres://postgres@127.0.0.1/db"})
    assert "SECRET_KEY" in values["error"]


@pytest.mark.parametrize(
    "name, value",
    [("DATABASE_URL", "mysql://nope"), ("SESSION_IDLE_MINUTES", "fifteen"), ("SIGNPOST_DEBUG", "perhaps"),
     ("REGISTRATION_RATE", "ten an hour")],
)
def test_a_malformed_setting_stops_start_up_naming_the_setting(tmp_path, name, value):
    values = settings_in({"SIGNPOST_DATA_DIR": str(tmp_path), name: value})
    assert name in values["error"]


def test_manage_py_reports_a_bad_setting_in_one_line(tmp_path):
    clean = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
        env={**clean, "SIGNPOST_DATA_DIR": str(tmp_path), "SESSION_IDLE_MINUTES": "soon"},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "SESSION_IDLE_MINUTES" in result.stderr


def test_a_short_secret_key_is_refused():
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        Config({"SECRET_KEY": "short"}).secret("SECRET_KEY", fallback_file=None)


@pytest.mark.parametrize("value", ["10/h", "5/15m", "100/d", "1/s"])
def test_a_rate_is_count_per_period(value):
    assert Config({"RATE": value}).rate("RATE", default="1/h") == value


PRODUCTION = {"DATABASE_URL": "postgres://signpost_app@127.0.0.1:5432/signpost", "SECRET_KEY": "x" * 50}


def test_production_without_admin_emails_fails_with_one_line_naming_it(tmp_path):
    """A broken audit chain must alert someone (issue 20): no ADMIN_EMAILS, no start."""
    clean = {k: v for k, v in os.environ.items() if k not in {"ADMIN_EMAILS", "SIGNPOST_DEBUG"}}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                            env={**clean, **PRODUCTION, "SIGNPOST_DATA_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "ADMIN_EMAILS" in result.stderr and "missing" in result.stderr


@pytest.mark.parametrize("extra", [{"ADMIN_EMAILS": "ops@example.org, duty@example.org"}, {"SIGNPOST_DEBUG": "true"}])
def test_admin_emails_given_or_debug_on_lets_production_start(tmp_path, extra):
    values = settings_in({"SIGNPOST_DATA_DIR": str(tmp_path), **PRODUCTION, **extra})
    assert "error" not in values, values


def test_the_embedded_setup_needs_no_admin_emails(tmp_path):
    assert "error" not in settings_in({"SIGNPOST_DATA_DIR": str(tmp_path)})


def test_blank_admin_emails_count_as_missing():
    with pytest.raises(ImproperlyConfigured, match="ADMIN_EMAILS is missing"):
        Config({"ADMIN_EMAILS": " , "}).required_list("ADMIN_EMAILS", when=True, why="needed")


def test_migrate_database_url_is_read_strictly(tmp_path):
    values = settings_in({"SIGNPOST_DATA_DIR": str(tmp_path), **PRODUCTION, "ADMIN_EMAILS": "ops@example.org",
                          "MIGRATE_DATABASE_URL": "mysql://owner@db/signpost"})
    assert "MIGRATE_DATABASE_URL" in values["error"]
