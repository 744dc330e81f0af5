from django.urls import path

from audit import views

app_name = "audit"

urlpatterns = [
    path("", views.events, name="events"),
    path("export.csv", views.export_events, name="export"),
    path("who-accessed/", views.child_report, name="child_report"),
    path("who-accessed/report.csv", views.child_report_csv, name="child_report_csv"),
    path("anomalies/", views.anomalies, name="anomalies"),
    path("anomalies/<str:key>/review/", views.review_anomaly, name="review_anomaly"),
]
