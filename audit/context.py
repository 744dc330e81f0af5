"""Who is acting, from where: what every audit event records about the request."""

import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestContext:
    user: object = None
    ip_address: str | None = None
    user_agent: str = ""
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def of(cls, request) -> "RequestContext":
        return cls(
            user=getattr(request, "user", None),
            ip_address=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
            request_id=_request_id(request),
        )

    @classmethod
    def system(cls, name: str = "system") -> "RequestContext":
        """For tasks and management commands: no user, no request."""
        return cls(user=None, user_agent=name)


def _request_id(request) -> str:
    """The id the server gave this request (signpost.middleware.RequestIdMiddleware), made here when
    the middleware did not run (a RequestFactory request); never the client's X-Request-ID."""
    if not getattr(request, "request_id", None):
        request.request_id = uuid.uuid4().hex
    return request.request_id
