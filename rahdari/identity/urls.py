from django.urls import path

from rahdari.identity import views

app_name = "identity"
urlpatterns = [
    path("", views.officer_home, name="officer_home"),
    path("enrol/", views.enrol_assisted, name="enrol"),
    path("enrol/self/", views.self_enrol, name="self_enrol"),
    path("enrolments/<uuid:enrolment_id>/", views.enrolment_detail, name="enrolment"),
    path("persons/<uuid:person_id>/", views.person_detail, name="person"),
    path("persons/<uuid:person_id>/edit/", views.person_edit, name="person_edit"),
    path("persons/<uuid:person_id>/photo/", views.person_photo, name="person_photo"),
    path("duplicates/", views.duplicate_queue, name="duplicates"),
    path("duplicates/<uuid:candidate_id>/", views.duplicate_detail, name="duplicate"),
    path("corrections/", views.correction_queue, name="corrections"),
    path("corrections/<uuid:request_id>/", views.correction_detail, name="correction"),
    path("me/", views.my_record, name="my_record"),
]
