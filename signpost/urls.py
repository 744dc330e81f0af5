from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from practitioners.auth_views import two_factor_urls
from signpost import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("", include(two_factor_urls)),
    path("account/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("django-admin/", admin.site.urls),
    path("children/", include("children.urls")),
    path("api/v1/children/", include("children.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-docs"),
    path("practitioners/", include("practitioners.urls")),

    path("audit/", include("audit.urls")),
    path("api/v1/", include(("feeds.api_urls", "feeds-api"))),
    path("feeds/", include("feeds.urls")),
]
