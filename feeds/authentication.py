"""Organisation API tokens for DRF: ``Authorization: Token <key>`` (or ``Bearer <key>``).

Checked on every request against the database (revoked tokens stop at once, SPEC 8);
the last-used time is written at most once a minute so a busy feed does not turn
every call into an extra UPDATE. django-axes never sees these attempts, so failed
keys are throttled here: after ``FEED_TOKEN_FAILURE_LIMIT`` failures from one
address, that address is refused for ``FEED_TOKEN_LOCKOUT_MINUTES``.
"""

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from audit import services as audit
from audit.context import RequestContext
from audit.models import AccessEvent
from feeds.models import OrganisationToken

KEYWORDS = (b"token", b"bearer")
LAST_USED_RESOLUTION = timedelta(minutes=1)

UNKNOWN_TOKEN = "This API token is not one Signpost issued: check you copied all of it."  # not "Invalid token."


class FeedClient:
    """The caller behind an organisation token: an organisation's system, not a person."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = None

    def __init__(self, token: OrganisationToken):
        self.token = token
        self.organisation = token.organisation

    def __str__(self):
        return f"Feed client (token #{self.token.pk})"


def feed_context(request) -> RequestContext:
    """Audit context for a token call: no user (the organisation goes in the event's details)."""
    base = RequestContext.of(request._request if hasattr(request, "_request") else request)
    return RequestContext(user=None, ip_address=base.ip_address, user_agent=base.user_agent,
                          request_id=base.request_id)


def _failure_key(request) -> str:
    return f"feeds:token-failures:{request.META.get('REMOTE_ADDR', '')}"


def locked_out(request) -> bool:
    return (cache.get(_failure_key(request)) or 0) >= settings.FEED_TOKEN_FAILURE_LIMIT


def _record_failure(request, reason: str, token: OrganisationToken | None = None):
    key = _failure_key(request)
    cache.add(key, 0, timeout=settings.FEED_TOKEN_LOCKOUT_MINUTES * 60)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.FEED_TOKEN_LOCKOUT_MINUTES * 60)
        failures = 1
    audit.record_event(
        action="feed.token.refused", context=feed_context(request), outcome=AccessEvent.Outcome.DENIED,
        reason=reason, details={"token_id": getattr(token, "pk", None), "failures": failures,
                                "organisation_id": getattr(token, "organisation_id", None)},
    )


class OrganisationTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() not in KEYWORDS:
            return None
        if locked_out(request):
            raise exceptions.Throttled(
                wait=settings.FEED_TOKEN_LOCKOUT_MINUTES * 60,
                detail="Too many failed token attempts from this address; try again later.",
            )
        if len(header) != 2:
            _record_failure(request, "malformed header")
            raise exceptions.AuthenticationFailed("Give the token as: Authorization: Token <key>.")
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            _record_failure(request, "malformed key")
            raise exceptions.AuthenticationFailed(UNKNOWN_TOKEN) from None
        token = (
            OrganisationToken.objects.select_related("organisation__local_authority")
            .filter(key_hash=OrganisationToken.hash_key(key))
            .first()
        )
        if token is None:
            _record_failure(request, "unknown token")
            raise exceptions.AuthenticationFailed(UNKNOWN_TOKEN)
        if token.revoked_at is not None:
            _record_failure(request, "revoked token", token)
            raise exceptions.AuthenticationFailed("This token has been revoked.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            OrganisationToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return FeedClient(token), token

    def authenticate_header(self, request):
        return 'Token realm="signpost-feeds"'


class IsFeedClient(permissions.BasePermission):
    message = "Use an organisation API token."

    def has_permission(self, request, view):
        return isinstance(request.user, FeedClient)


class FeedTokenRateThrottle(throttling.SimpleRateThrottle):
    """Per-token request rate (``API_THROTTLE_RATE``)."""

    scope = "token"

    def get_cache_key(self, request, view):
        if not isinstance(request.user, FeedClient):
            return None
        return self.cache_format % {"scope": self.scope, "ident": f"feed-token-{request.user.token.pk}"}


class OrganisationTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes organisation tokens."""

    target_class = OrganisationTokenAuthentication
    name = "organisationToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "An organisation API token, sent as `Token <key>` (or `Bearer <key>`)."}
