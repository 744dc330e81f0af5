import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests import factories


@pytest.fixture
def practitioner(db):
    return factories.PractitionerFactory()


def verified_login(client, user):
    """Log ``user`` in with a verified second factor, as the OTP login flow would."""
    from django_otp import DEVICE_ID_SESSION_KEY

    device, _ = TOTPDevice.objects.get_or_create(user=user, name="test")
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def login_verified():
    return verified_login


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Argon2 is slow on purpose (~0.4 s a hash) and the suite makes many users: hash with MD5
    in tests. tests/practitioners/test_login.py checks the project's own setting is Argon2."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _public_forms_unthrottled(settings):
    """The whole suite signs up, asks for reset links and searches from one address; the throttles' own
    tests set real rates."""
    settings.REGISTRATION_RATE = settings.PASSWORD_RESET_RATE = "100000/m"
    # Search limits count per user id in the cache, which outlives each test's database: the limits'
    # own tests (tests/children/test_search_limits.py) set real rates and a clean cache.
    settings.SEARCH_RATE_PER_MINUTE = settings.SEARCH_RATE_PER_DAY = 100000


@pytest.fixture(autouse=True)
def _emails_sent_in_process(settings):
    """No Celery worker runs beside the suite, even when REDIS_URL is set: emails are sent in this
    process after their transaction commits, as on the embedded setup. The worker's own retries are
    tested through the task (tests/outbox)."""
    settings.OUTBOX_SEND_IN_PROCESS = True


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """Tests do not run collectstatic: serve static files unhashed, straight from the finders."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _audit_anchor_optional(settings):
    """Outside DEBUG the verifier requires an anchor (tests/audit/test_anchors.py); most tests that
    verify the chain are about the chain alone and write none."""
    settings.AUDIT_ANCHOR_REQUIRED = False


@pytest.fixture(autouse=True)
def _own_anchor_file(settings, tmp_path, monkeypatch):
    """Each test anchors into a file of its own: the database is emptied between tests, so an anchor
    left by one (the writer anchors every AUDIT_ANCHOR_EVERY events) names events the next never had.
    Processes a test starts (gunicorn, workers) inherit it through the environment."""
    path = tmp_path / "audit-anchors.jsonl"
    settings.AUDIT_ANCHOR_FILE = path
    settings.AUDIT_ANCHOR_IN_PROCESS = True  # no worker beside the suite (tests/audit/test_anchors.py queues one)
    monkeypatch.setenv("AUDIT_ANCHOR_FILE", str(path))


@pytest.fixture(scope="session", autouse=True)
def _audit_tables_flushable_by_the_test_suite():
    """Transactional tests and live_server empty the database between tests; the audit
    tables refuse that to everyone else. Open the narrow way ``audit.guards`` describes
    for the suite's own flush, and nothing more."""
    from django.db.backends.base.operations import BaseDatabaseOperations

    from audit.guards import allow_test_flush

    flush = BaseDatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        with allow_test_flush(self.connection):
            flush(self, sql_list)

    BaseDatabaseOperations.execute_sql_flush = execute_sql_flush
    yield
    BaseDatabaseOperations.execute_sql_flush = flush
