from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from practitioners import password_views
from practitioners.auth_views import two_factor_urls
from signpost import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("", include(two_factor_urls)),
    path("account/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/password-reset/", password_views.PasswordResetView.as_view(), name="password_reset"),
    path("account/password-reset/sent/", password_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("account/password-reset/<uidb64>/<token>/", password_views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("account/password-reset/done/", password_views.PasswordResetCompleteView.as_view(),
         name="password_reset_complete"),
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

handler400 = "signpost.views.bad_request"
handler404 = "signpost.views.page_not_found"
