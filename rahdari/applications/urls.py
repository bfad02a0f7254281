from __future__ import annotations

from django.urls import path

from rahdari.applications import views

app_name = "applications"

urlpatterns = [
    path("", views.mine, name="mine"),
    path("office/", views.office, name="office"),
    path("queue/", views.queue, name="queue"),
    path("queue/bulk", views.bulk, name="bulk"),
    path("review/<uuid:application_id>/", views.review, name="review"),
    path("review/<uuid:application_id>/<slug:action>", views.decide, name="decide"),
    path("<uuid:application_id>/", views.detail, name="detail"),
    path("<uuid:application_id>/upload", views.upload, name="upload"),
    path("<uuid:application_id>/<slug:action>", views.act, name="act"),
]
