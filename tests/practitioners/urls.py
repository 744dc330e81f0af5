"""The site's URLs, plus a stand-in for ``children:record`` while the search issue's record page
is not on this branch: break-glass redirects to ``child.get_absolute_url()``, which must resolve.
Once the real route exists, this module adds nothing."""

from django.http import HttpResponse
from django.urls import include, path

from signpost.urls import urlpatterns as site


def _record_stand_in(request, reference):
    return HttpResponse(f"Record page for {reference} (built by the search issue)")


urlpatterns = list(site)
if not any(getattr(p, "namespace", None) == "children" for p in site):
    urlpatterns.append(
        path("children/", include(([path("<str:reference>/", _record_stand_in, name="record")], "children")))
    )
