"""Signpost settings: one file, parsed strictly from the environment.

With nothing set you get the embedded setup (SQLite in ``var/``, Celery tasks run
in-process). ``DATABASE_URL`` and ``REDIS_URL`` switch to the production shape.
Every variable is listed in README.md. A missing or malformed value stops start-up
with a one-line ``ImproperlyConfigured`` message naming it (see ``signpost.config``).
"""

from datetime import timedelta
from pathlib import Path

from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF

from signpost.config import Config

BASE_DIR = Path(__file__).resolve().parent.parent
env = Config()

DATA_DIR = env.path("SIGNPOST_DATA_DIR", default=BASE_DIR / "var")
DEBUG = env.bool("SIGNPOST_DEBUG", default=False)
EMBEDDED = not env.is_set("DATABASE_URL")

# Production must be given a key; the embedded single-machine setup keeps a generated
# one in its data folder (mode 600) so a restart does not log everybody out.
SECRET_KEY = env.secret("SECRET_KEY", fallback_file=DATA_DIR / "secret_key" if EMBEDDED else None)
# Keyed fingerprints of search queries in the audit log (SPEC 3.6). A separate
# deployment secret; derived from SECRET_KEY when not given.
AUDIT_FINGERPRINT_KEY = env.str("AUDIT_FINGERPRINT_KEY", default="") or f"audit-fp:{SECRET_KEY}"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "signpost.apps.SignpostAdminConfig",  # django.contrib.admin behind a second factor
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_filters",
    "guardian",
    "auditlog",
    "pgtrigger",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "two_factor",
    "crispy_forms",
    "crispy_forms_gds",
    "practitioners",
    "children",
    "audit",
    "housekeeping",
    "outbox",

    "feeds",
]

MIDDLEWARE = [
    # First, so every response gets them, error pages included (signpost/middleware.py).
    "signpost.middleware.RequestIdMiddleware",
    "signpost.middleware.NoStoreMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "signpost.urls"
WSGI_APPLICATION = "signpost.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "signpost.context_processors.signpost",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'signpost.sqlite3'}")}
# Two roles on PostgreSQL (docs/deployment.md): DATABASE_URL is the runtime role, which owns
# nothing; MIGRATE_DATABASE_URL, given to the migrate step only, is the owner (migrate_as_owner).
MIGRATE_DATABASE = env.db("MIGRATE_DATABASE_URL", default="") if env.is_set("MIGRATE_DATABASE_URL") else None
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("TEST", {})
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "two_factor:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Sessions: idle timeout (SPEC 7), refreshed on every request.
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_MINUTES", default=15) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "signpost.views.csrf_failure"  # a GOV.UK page, not Django's bare 403
SECURE_COOKIES = env.bool("SECURE_COOKIES", default=not EMBEDDED)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    },
}

# Login throttling (django-axes): lock on username + IP, SPEC 8.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = False

OTP_TOTP_ISSUER = env.str("OTP_ISSUER", default="Signpost")
TWO_FACTOR_PATCH_ADMIN = False

# django-guardian: direct FK permission models only; no anonymous user object.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

CRISPY_ALLOWED_TEMPLATE_PACKS = ["gds"]
CRISPY_TEMPLATE_PACK = "gds"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON bodies: bounded size and depth, no lone surrogates or NUL (signpost/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["signpost.parsers.StrictJSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_RATES": {"token": env.str("API_THROTTLE_RATE", default="600/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Signpost API",
    "DESCRIPTION": "Search children known to services, read who is involved, and feed involvements.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# Celery: no REDIS_URL means the embedded default, tasks run in-process.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_RESULT_EXPIRES = None  # no result backend, so no nightly celery.backend_cleanup for beat to run
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
# Times are Europe/London. Run exactly one beat (SPEC 8). "expires" drops a run still queued
# when the next one is due, so a worker that was down does not replay a backlog; every job is
# idempotent and locked anyway. Each task is a housekeeping job (housekeeping/jobs.py).
_DAY_LESS_AN_HOUR = 23 * 3600


def _beat(task: str, schedule: crontab, expires: int) -> dict:
    return {"task": task, "schedule": schedule, "options": {"expires": expires}}


CELERY_BEAT_SCHEDULE: dict = {
    "expire-grants": _beat("practitioners.tasks.revoke_expired_grants", crontab(minute="*/15"), 14 * 60),
    "expire-practitioners": _beat(
        "practitioners.tasks.expire_lapsed_practitioners", crontab(hour=0, minute=15), _DAY_LESS_AN_HOUR
    ),
    "remind-practitioners": _beat("practitioners.tasks.send_access_reminders", crontab(hour=8, minute=0), _DAY_LESS_AN_HOUR),
    "expire-records": _beat("children.tasks.expire_stale_records", crontab(hour=2, minute=0), _DAY_LESS_AN_HOUR),
    "verify-audit-chain": _beat("audit.tasks.verify_audit_chain", crontab(hour=3, minute=30), _DAY_LESS_AN_HOUR),
    "send-waiting-emails": _beat("housekeeping.tasks.send_waiting_emails", crontab(minute="*/5"), 4 * 60),
}

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="signpost@localhost")
# Who is told when the audit chain breaks (SPEC 4): required in production, or the alarm reaches nobody.
ADMINS = [("Signpost admins", a) for a in env.required_list(
    "ADMIN_EMAILS", when=not EMBEDDED and not DEBUG,
    why="it is required when DATABASE_URL is set (who is emailed when the audit chain breaks)")]
SERVER_EMAIL = DEFAULT_FROM_EMAIL  # the sender of alerts to ADMINS (mail_admins)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)  # seconds; Django's default waits for ever
# Outbound email queue (outbox/): every email is stored, then sent by a Celery task that retries
# with exponential backoff (30 s, 1, 2, 4, 8 min...); after the last retry the row is "failed".
OUTBOX_MAX_RETRIES = env.int("OUTBOX_MAX_RETRIES", default=5)
# The writer's own audit anchor (audit.integrity.anchor_soon): in the request only with no worker.
AUDIT_ANCHOR_IN_PROCESS = CELERY_TASK_ALWAYS_EAGER
OUTBOX_SEND_IN_PROCESS = CELERY_TASK_ALWAYS_EAGER  # no worker: one attempt after the commit, then the sweep
OUTBOX_RETRY_BACKOFF = timedelta(seconds=30)
OUTBOX_RETRY_BACKOFF_MAX = timedelta(minutes=10)
OUTBOX_STALE_AFTER = timedelta(minutes=15)  # queued this long: the worker never got it, the sweep sends it
OUTBOX_SWEEP_BATCH = 500
OUTBOX_FORGET_FAILED_AFTER = timedelta(days=30)  # then a failed email's content is erased, its row kept

# Domain policy (SPEC 5 and 3.4).
RETENTION_PERIOD = timedelta(days=env.int("RETENTION_DAYS", default=365))
BREAK_GLASS_WINDOW = timedelta(hours=env.int("BREAK_GLASS_HOURS", default=24))
# A relationship a person recorded (form, CSV upload, break-glass) for a child their organisation could
# not already open lapses after this many days unless the child's LA admin or a system feed confirms it.
CLAIM_CONFIRM_DAYS = env.int("CLAIM_CONFIRM_DAYS", default=14)
TRAINING_VALID_FOR = timedelta(days=env.int("TRAINING_VALID_DAYS", default=3 * 365))
SEARCH_RESULT_CAP = env.int("SEARCH_RESULT_CAP", default=20)
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=500)  # children deleted per transaction
ACCESS_REMINDER_DAYS = env.int("ACCESS_REMINDER_DAYS", default=30)  # warn this long before access lapses
# Self-registration attempts per network address (django-ratelimit's "count/period"): sign-in is
# throttled by django-axes; sign-up is throttled here so nobody can flood LA admins with accounts.
REGISTRATION_RATE = env.rate("REGISTRATION_RATE", default="10/h")
RATELIMIT_USE_CACHE = "default"
PASSWORD_RESET_RATE = env.rate("PASSWORD_RESET_RATE", default="5/h")
PASSWORD_RESET_TIMEOUT = 2 * 60 * 60  # a reset link works for two hours (Django's default is three days)

# Source-system feeds (SPEC 6): rows per API call, failed-token throttle, CSV limits,
# and when an open involvement counts as stale on the data-quality dashboard.
FEED_BATCH_SIZE = env.int("FEED_BATCH_SIZE", default=1000)
FEED_TOKEN_FAILURE_LIMIT = env.int("FEED_TOKEN_FAILURE_LIMIT", default=20)
FEED_TOKEN_LOCKOUT_MINUTES = env.int("FEED_TOKEN_LOCKOUT_MINUTES", default=15)
FEED_CSV_MAX_BYTES = env.int("FEED_CSV_MAX_MB", default=20) * 1024 * 1024
FEED_CSV_MAX_ROWS = env.int("FEED_CSV_MAX_ROWS", default=100_000)
FEED_STALE_MONTHS = env.int("FEED_STALE_MONTHS", default=6)

# Application logs never carry personal data: only ids and event names.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # Capped whatever LOG_LEVEL says: at DEBUG these two write personal data into the log.
        # django.template logs every failed variable lookup with the whole context (a child's record);
        # django.db.backends logs each query with its parameters (while DEBUG is on).
        "django.template": {"level": "INFO"},
        "django.db.backends": {"level": "INFO"},
    },
}

# Access control (issue 3): reasons, windows, sessions that a suspension can end.
BREAK_GLASS_REASON_MIN_LENGTH = env.int("BREAK_GLASS_REASON_MIN_LENGTH", default=20)
ACCESS_REQUEST_REASON_MIN_LENGTH = env.int("ACCESS_REQUEST_REASON_MIN_LENGTH", default=10)
ACCESS_GRANT_DEFAULT_DURATION = timedelta(days=env.int("ACCESS_GRANT_DEFAULT_DAYS", default=30))
ACCESS_GRANT_MAX_DURATION = timedelta(days=env.int("ACCESS_GRANT_MAX_DAYS", default=90))
MIDDLEWARE += ["practitioners.middleware.BarredAccountMiddleware"]
AXES_LOCKOUT_TEMPLATE = "practitioners/locked_out.html"

# Matching engine (issue 4): rows read per indexed block probe; bounds a search's cost on common names.
SEARCH_BLOCK_LIMIT = env.int("SEARCH_BLOCK_LIMIT", default=1000)

# Audit log (SPEC 4 and 7). Several hash chains let concurrent writers proceed in
# parallel; SQLite serialises every write anyway, so one chain there.
AUDIT_CHAINS = env.int("AUDIT_CHAINS", default=1 if DATABASES["default"]["ENGINE"].endswith("sqlite3") else 8)
# The chain heads are anchored outside the database, signed with this key (HMAC).
AUDIT_ANCHOR_KEY = env.str("AUDIT_ANCHOR_KEY", default="") or f"audit-anchor:{SECRET_KEY}"
AUDIT_ANCHOR_FILE = env.path("AUDIT_ANCHOR_FILE", default=DATA_DIR / "audit-anchors.jsonl")
# The writer anchors after every this-many events of a chain (0: beat only); and outside DEBUG
# the verifier treats "no anchor at all" as a break (a removed file must not pass).
AUDIT_ANCHOR_EVERY = env.int("AUDIT_ANCHOR_EVERY", default=500)
AUDIT_ANCHOR_REQUIRED = env.bool("AUDIT_ANCHOR_REQUIRED", default=not DEBUG)
# Anomaly view: a practitioner with more searches than this in one day is flagged.
AUDIT_SEARCHES_PER_DAY_THRESHOLD = env.int("AUDIT_SEARCHES_PER_DAY_THRESHOLD", default=50)
AUDIT_PAGE_SIZE = 50
CELERY_BEAT_SCHEDULE["audit-anchor-chain-heads"] = _beat("audit.tasks.anchor_chain_heads", crontab(), 55)
CELERY_BEAT_SCHEDULE["audit-ensure-partitions"] = {"task": "audit.tasks.ensure_partitions", "schedule": 86400.0}
MIDDLEWARE.append("audit.middleware.AdminAccessAuditMiddleware")
CELERY_BEAT_SCHEDULE["audit-tally-search-volume"] = {"task": "audit.tasks.tally_search_volume", "schedule": 3600.0}

# Throttles and sessions (issue 17; practitioners/throttles.py, practitioners/middleware.py).
# Failed sign-ins per account from every address together (ASVS 2.2.1); axes keeps the per-address lock.
LOGIN_ACCOUNT_FAILURE_LIMIT = env.int("LOGIN_ACCOUNT_FAILURE_LIMIT", default=100)
LOGIN_ACCOUNT_WINDOW = timedelta(minutes=env.int("LOGIN_ACCOUNT_WINDOW_MINUTES", default=60))
AUTHENTICATION_BACKENDS.insert(1, "practitioners.backends.AccountLockoutBackend")  # after axes, before passwords
AXES_USERNAME_CALLABLE = "practitioners.throttles.axes_username"  # cut to 150 characters, no NUL
# Wrong practitioner API tokens, per client address (a right token is never refused for them).
API_TOKEN_FAILURE_LIMIT = env.int("API_TOKEN_FAILURE_LIMIT", default=20)
API_TOKEN_LOCKOUT_MINUTES = env.int("API_TOKEN_LOCKOUT_MINUTES", default=15)
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"][0] = "practitioners.api_authentication.PractitionerTokenAuthentication"
# Searches per practitioner, web and API together.
SEARCH_RATE_PER_MINUTE = env.int("SEARCH_RATE_PER_MINUTE", default=30)
SEARCH_RATE_PER_DAY = env.int("SEARCH_RATE_PER_DAY", default=500)
# A session ends this long after sign-in however active (ASVS 3.3.2); the idle timeout is SESSION_COOKIE_AGE.
SESSION_ABSOLUTE_LIFETIME = timedelta(hours=env.int("SESSION_ABSOLUTE_HOURS", default=12))
MIDDLEWARE[MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware")] = (
    "practitioners.middleware.SessionMiddleware")  # background polls do not renew the idle timer
MIDDLEWARE.insert(MIDDLEWARE.index("django_otp.middleware.OTPMiddleware") + 1,
                  "practitioners.middleware.SessionLifetimeMiddleware")
# Lost workers (issue 17). A job run silent this long counts as abandoned, and the sweep on beat
# queues its job again; jobs that cannot heartbeat mid-run (one long read) get JOB_LONGEST_RUN.
# JOB_LONGEST_RUN is also Redis's visibility timeout: an unacknowledged task (its worker died)
# is handed out again after it, so it must exceed the longest run the job list shows, or a live
# run is handed out twice (harmless, every job is locked, but wasted).
JOB_HEARTBEAT_TIMEOUT = timedelta(seconds=env.int("JOB_HEARTBEAT_TIMEOUT_SECONDS", default=300))
JOB_LONGEST_RUN = timedelta(seconds=env.int("JOB_LONGEST_RUN_SECONDS", default=1800))
JOB_SWEEP_INTERVAL = env.int("JOB_SWEEP_INTERVAL_SECONDS", default=120)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(JOB_LONGEST_RUN.total_seconds()),
    # kombu scans for such tasks every interval x throttle seconds (default 10 x 10); once a minute.
    "unacked_restore_interval": 60,
    "unacked_restore_throttle": 1,
}
CELERY_BEAT_SCHEDULE["sweep-abandoned-runs"] = _beat(
    "housekeeping.tasks.sweep_abandoned_runs", JOB_SWEEP_INTERVAL, JOB_SWEEP_INTERVAL)
