from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token
from django.views.decorators.http import require_GET


@require_GET
def home(request):
    """Landing page: what Signpost is, and a way in. No child data."""
    return render(request, "home.html")


@require_GET
def healthz(request):
    """Liveness for the load balancer: the database answers. No personal data."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


# Error pages -------------------------------------------------------------------------------------------------------
# Every path gets a GOV.UK page, except the API, whose clients read JSON (DRF's own shape: {"detail": ...}).
# None of them repeats the exception's text: a message may carry a name or a reference.

ERRORS = {
    400: ("There is a problem with your request", "Go back and try again. If you followed a link, it may be broken."),
    403: ("You cannot see this page", "Your account does not give you access to this page."),
    404: ("Page not found", "If you typed the web address, check it is correct. If you pasted the web address, "
                            "check you copied the entire address. A child's record can also be removed when "
                            "nobody has worked with the child for a long time."),
    500: ("Sorry, there is a problem with the service", "Try again later. What you were doing has not been "
                                                        "saved unless the page told you so."),
}
API_DETAIL = {400: "Bad request.", 403: "You do not have permission to perform this action.",
              404: "Not found.", 500: "Server error."}


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def _error_response(request, status: int, *, with_request: bool = True):
    if _is_api(request):
        return JsonResponse({"detail": API_DETAIL[status]}, status=status)
    title, body = ERRORS[status]
    context = {"status": status, "title": title, "body": body, "service_name": "Signpost"}
    if with_request:
        return render(request, "errors/error.html", context, status=status)
    # A server error may come from the database or a context processor: render with nothing that could fail again.
    html = loader.get_template("errors/error.html").render(context)
    return HttpResponse(html, status=status)


@requires_csrf_token
def bad_request(request, exception=None):
    # A bad Host header reaches here too, and context processors may ask for the host: stay request-free.
    return _error_response(request, 400, with_request=False)


@requires_csrf_token
def permission_denied(request, exception=None):
    return _error_response(request, 403)


@requires_csrf_token
def page_not_found(request, exception=None):
    return _error_response(request, 404)


@requires_csrf_token
def server_error(request):
    return _error_response(request, 500, with_request=False)


def csrf_failure(request, reason=""):
    """An expired or missing form token: a GOV.UK page that says what to do, not Django's bare 403."""
    if _is_api(request):
        return JsonResponse({"detail": "CSRF check failed."}, status=403)
    context = {"status": 403, "title": "Your form has expired",
               "body": "Go back, reload the page and submit the form again.", "service_name": "Signpost"}
    return render(request, "errors/error.html", context, status=403)
