from django.urls import path

from rahdari.core import views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    path("audit/", views.audit_log, name="audit_log"),
    path("audit/verify/", views.audit_verify_view, name="audit_verify"),
    path("operations/", views.operations, name="operations"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job_detail"),
    path("dev/outbox/", views.outbox, name="outbox"),
]
