from django.urls import path

from rahdari.documents import views

app_name = "documents"
urlpatterns = [
    path("", views.my_documents, name="mine"),
    path("upload/", views.my_upload, name="my_upload"),
    path("office/", views.office, name="office"),
    path("office/<uuid:person_id>/", views.person_documents, name="person"),
    path("office/<uuid:person_id>/upload/", views.person_upload, name="person_upload"),
    path("versions/<uuid:version_id>/", views.version_view, name="view"),
    path("versions/<uuid:version_id>/content", views.version_content, name="content"),
]
