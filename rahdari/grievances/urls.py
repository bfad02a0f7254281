from django.urls import path

from rahdari.grievances import views

app_name = "grievances"
urlpatterns = [
    path("", views.home, name="home"),
    path("new/", views.lodge, name="lodge"),
    path("status/", views.status, name="status"),
    path("status/<uuid:complaint_id>/", views.status_detail, name="status_detail"),
    path("status/<uuid:complaint_id>/rate/", views.status_rate, name="rate"),
    path("status/<uuid:complaint_id>/reopen/", views.status_reopen, name="reopen"),
    path("desk/", views.desk, name="desk"),
    path("desk/new/", views.office_lodge, name="office_lodge"),
    path("desk/dashboard/", views.dashboard, name="dashboard"),
    path("desk/<uuid:complaint_id>/", views.complaint_detail, name="complaint"),
    path("desk/<uuid:complaint_id>/voice", views.complaint_voice, name="voice"),
    path(
        "desk/<uuid:complaint_id>/attachments/<uuid:version_id>",
        views.complaint_attachment,
        name="attachment",
    ),
    path("desk/<uuid:complaint_id>/<str:action>/", views.complaint_act, name="act"),
]
