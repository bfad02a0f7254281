from django.urls import path

from rahdari.credentials import views

app_name = "credentials"
urlpatterns = [
    path("verify/", views.verify, name="verify"),
    path("me/", views.my_qr, name="my_qr"),
    path("me/qr.png", views.my_qr_png, name="my_qr_png"),
    path("me/qr.svg", views.my_qr_svg, name="my_qr_svg"),
    path("me/card.pdf", views.my_card_pdf, name="my_card_pdf"),
    path("persons/<uuid:person_id>/", views.person_credentials, name="person"),
    path("bulk/", views.bulk, name="bulk"),
    path("cards/<uuid:batch_id>/", views.card_batch, name="card_batch"),
]
