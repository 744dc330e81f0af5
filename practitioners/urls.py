from django.urls import path

from practitioners import session_views, views

app_name = "practitioners"

urlpatterns = [
    path("register/", views.register, name="register"),
    path("register/done/", views.registered, name="registered"),
    path("children/<child_ref:reference>/request-access/", views.request_access, name="request_access"),
    path("children/<child_ref:reference>/break-glass/", views.break_glass, name="break_glass"),
    path("my-requests/", views.my_requests, name="my_requests"),
    path("console/", views.console, name="console"),
    path("console/practitioners/", views.practitioner_list, name="practitioner_list"),
    path("console/practitioners/new/", views.new_practitioner, name="new_practitioner"),
    path("console/practitioners/<int:pk>/", views.practitioner_detail, name="practitioner_detail"),
    path("console/practitioners/<int:pk>/approve/", views.approve, name="approve"),
    path("console/practitioners/<int:pk>/suspend/", views.suspend, name="suspend"),
    path("console/practitioners/<int:pk>/reinstate/", views.reinstate, name="reinstate"),
    path("console/practitioners/<int:pk>/vetting/", views.vetting, name="vetting"),
    path("console/practitioners/<int:pk>/clear-lockout/", views.clear_lockout, name="clear_lockout"),
    path("sessions/", session_views.sessions, name="sessions"),
    path("sessions/<int:pk>/end/", session_views.end_session, name="end_session"),
    path("console/practitioners/<int:pk>/reset-authenticator/", views.reset_authenticator, name="reset_authenticator"),
    path("console/access-requests/", views.access_requests, name="access_requests"),
    path("console/access-requests/<int:pk>/", views.decide_access_request, name="decide_access_request"),
    path("console/break-glass/", views.break_glass_reviews, name="break_glass_reviews"),
    path("console/break-glass/<int:pk>/", views.review_break_glass, name="review_break_glass"),
    path("console/claims/", views.claims, name="claims"),
    path("console/claims/<int:pk>/", views.decide_claim, name="decide_claim"),
    path("console/grants/", views.grants, name="grants"),
    path("console/grants/<int:pk>/end/", views.end_grant, name="end_grant"),
    path("console/practitioners/<int:pk>/data-manager/", views.data_manager, name="data_manager"),
]
