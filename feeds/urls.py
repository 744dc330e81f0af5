from django.urls import path

from feeds import views

app_name = "feeds"
urlpatterns = [
    path("", views.home, name="home"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:pk>/rotate", views.token_rotate, name="token_rotate"),
    path("tokens/<int:pk>/revoke", views.token_revoke, name="token_revoke"),
    path("reviews/", views.reviews, name="reviews"),
    path("reviews/<int:pk>/", views.review, name="review"),
    path("merges/", views.merges, name="merges"),
    path("merges/new", views.merge, name="merge"),
    path("merges/<int:pk>/undo", views.merge_undo, name="merge_undo"),
    path("quality/", views.quality, name="quality"),
    path("uploads/", views.upload, name="upload"),
    path("uploads/template.csv", views.upload_template, name="upload_template"),
    path("uploads/<int:pk>/", views.upload_detail, name="upload_detail"),
    path("uploads/<int:pk>/status.json", views.upload_status, name="upload_status"),
    path("uploads/<int:pk>/errors.csv", views.upload_errors, name="upload_errors"),
]
