from django.urls import path

from rahdari.ledger import views

app_name = "ledger"
urlpatterns = [
    path("", views.transparency, name="transparency"),
    path("entries/<int:index>/", views.entry, name="entry"),
    path("entries/<int:index>/receipt.pdf", views.entry_pdf, name="entry_pdf"),
    path("verify/", views.verify, name="verify"),
]
