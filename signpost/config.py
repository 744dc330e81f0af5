"""Strict reading of settings from the environment.

A thin layer over django-environ: every malformed or missing value raises
``ImproperlyConfigured`` with one line that names the variable, so start-up fails
clearly instead of running half-configured.
"""

import os
import re
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured


class Config:
    def __init__(self, environ_map=None):
        self._environ = os.environ if environ_map is None else environ_map
        self._env = environ.Env()
        self._env.ENVIRON = self._environ

    def is_set(self, name: str) -> bool:
        return bool(self._environ.get(name, "").strip())

    def _read(self, kind, name, default):
        if not self.is_set(name):
            return default
        try:
            return getattr(self._env, kind)(name)
        except (ValueError, TypeError, KeyError) as exc:
            raise ImproperlyConfigured(f"Setting {name} is malformed: {exc}") from None

    def str(self, name, *, default):
        return self._read("str", name, default)

    def int(self, name, *, default):
        return self._read("int", name, default)

    def bool(self, name, *, default):
        if not self.is_set(name):
            return default
        value = self._environ[name].strip().lower()
        if value in {"1", "true", "yes", "on"}:
            return True
        if value in {"0", "false", "no", "off"}:
            return False
        raise ImproperlyConfigured(f"Setting {name} is malformed: expected true/false, got {value!r}")

    def rate(self, name, *, default):
        """A rate as "count/period", period s, m, h or d with an optional multiple: "10/h", "5/15m"."""
        value = self._read("str", name, default).strip()
        if not re.fullmatch(r"[0-9]+/[0-9]*[smhd]", value):
            raise ImproperlyConfigured(f"Setting {name} is malformed: expected count/period like 10/h, got {value!r}")
        return value

    def list(self, name, *, default):
        return self._read("list", name, default)

    def required_list(self, name, *, when: bool, why: str):
        """A comma-separated list that must not be empty ``when`` (e.g. in production)."""
        value = [item.strip() for item in self.list(name, default=[]) if item.strip()]
        if when and not value:
            raise ImproperlyConfigured(f"Setting {name} is missing: {why}")
        return value

    def path(self, name, *, default) -> Path:
        return Path(self._read("str", name, str(default))).resolve()

    def db(self, name, *, default):
        url = self._environ.get(name, "").strip() or default
        if not url.startswith(("postgres://", "postgresql://", "sqlite://")):
            raise ImproperlyConfigured(
                f"Setting {name} is malformed: expected postgres://user@host:port/db or sqlite:///path"
            )
        try:
            config = environ.Env.db_url_config(url)
        except Exception as exc:  # django-environ raises a zoo of types here
            raise ImproperlyConfigured(f"Setting {name} is malformed: {exc}") from None
        if config["ENGINE"].endswith("sqlite3"):
            Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        elif not config.get("NAME"):
            raise ImproperlyConfigured(f"Setting {name} is malformed: no database name")
        return config

    def secret(self, name, *, fallback_file: Path | None):
        """A required secret; the embedded setup may keep a generated one in a file."""
        if self.is_set(name):
            value = self._environ[name].strip()
            if len(value) < 32:
                raise ImproperlyConfigured(f"Setting {name} is malformed: use at least 32 characters")
            return value
        if fallback_file is None:
            raise ImproperlyConfigured(f"Setting {name} is missing: it is required when DATABASE_URL is set")
        fallback_file.parent.mkdir(parents=True, exist_ok=True)
        if not fallback_file.exists():
            fd = os.open(fallback_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(50))
        return fallback_file.read_text().strip()
