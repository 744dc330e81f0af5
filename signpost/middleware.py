"""Cross-cutting response and request rules, each set once for every view: request ids and no-store."""

import logging
import re
import uuid

from django.conf import settings

logger = logging.getLogger("signpost.request")

# What a client's X-Request-ID may keep to be logged: a short run of harmless characters.
_CLIENT_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]")
CLIENT_REQUEST_ID_MAX = 64


def client_request_id(request) -> str:
    """The client's own X-Request-ID, cut to 64 safe characters (no CRLF, no markup), or ""."""
    return _CLIENT_ID_UNSAFE.sub("", request.META.get("HTTP_X_REQUEST_ID", "")[:CLIENT_REQUEST_ID_MAX * 4])[
        :CLIENT_REQUEST_ID_MAX]


class RequestIdMiddleware:
    """Give every request an id made here (``request.request_id``), the one its audit events carry.

    A client's X-Request-ID is untrusted: a client could replay another request's id, or
    forge one to confuse an investigation. It is kept, cleaned, as ``request.client_request_id``
    and logged beside ours, never used as ours. The response's X-Request-ID is ours.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = uuid.uuid4().hex
        request.client_request_id = client_request_id(request)
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        match = getattr(request, "resolver_match", None)
        # No path or query: a reset link's token or a future GET form could carry personal data.
        logger.debug("request %s client_id=%s view=%s method=%s status=%s", request.request_id,
                     request.client_request_id or "-", getattr(match, "view_name", None) or "-",
                     request.method, response.status_code)
        return response


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every response but static files.

    Pages and API answers carry children's details and audit records: no browser cache, no
    proxy and no back button may keep them (NCSC and OWASP ASVS 8.2.1). Deciding it per
    response (authenticated, has child data) would fail open the day a view forgets; the
    public pages lose nothing by not being cached. Static files are whitenoise's, cached by name.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.static_prefix = settings.STATIC_URL if settings.STATIC_URL.startswith("/") else f"/{settings.STATIC_URL}"

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith(self.static_prefix):
            response["Cache-Control"] = "no-store"
            response.headers.pop("Expires", None)
        return response
