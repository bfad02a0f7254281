from django.urls import path

from rahdari.payments import agent_views, payment_views, views

app_name = "payments"
urlpatterns = [
    path("", views.cycle_list, name="list"),
    path("cycles/<uuid:cycle_id>/", views.cycle_detail, name="cycle"),
    path("cycles/<uuid:cycle_id>/decision/", views.cycle_decide, name="cycle_decide"),
    path("cycles/<uuid:cycle_id>/batches/", views.batches_start, name="batches_start"),
    path("cycles/<uuid:cycle_id>/send/", views.batches_send, name="batches_send"),
    path("batches/<uuid:batch_id>/file/", views.batch_file, name="batch_file"),
    path("me/", views.my_payments, name="me"),
    path("me/code/", views.my_code, name="my_code"),
    path("me/receipts/<int:event_id>/", views.my_receipt, name="my_receipt"),
    path("me/receipts/<int:event_id>/receipt.pdf", views.my_receipt_pdf, name="my_receipt_pdf"),
    path("me/receipts/<int:event_id>/qr.svg", views.my_receipt_qr, name="my_receipt_qr"),
    path("accounts/", views.officer_find, name="accounts"),
    path("accounts/<uuid:person_id>/", views.officer_person, name="person"),
    path("accounts/<uuid:person_id>/code/", views.officer_code, name="person_code"),
    path("me/cash-outs/<uuid:cash_out_id>/", agent_views.my_cash_out, name="my_cash_out"),
    path("agent/", agent_views.agent_desk, name="agent"),
    path("agent/cash-outs/<uuid:cash_out_id>/", agent_views.agent_cash_out, name="agent_cash_out"),
    path("fraud-review/", agent_views.fraud_review, name="fraud"),
    path("payments/<str:key>/", payment_views.payment_detail, name="payment"),
    path(
        "payments/<str:key>/repay/",
        payment_views.payment_decide,
        {"decision": "repay"},
        name="payment_repay",
    ),
    path(
        "payments/<str:key>/reverse/",
        payment_views.payment_decide,
        {"decision": "reverse"},
        name="payment_reverse",
    ),
]

# Prepaid cards: her card on "My payments", and an officer's card actions (card_views.py).
from rahdari.payments import card_views  # noqa: E402

urlpatterns += [
    path("me/card/", card_views.my_card, name="my_card"),
    path("me/card/balance/", card_views.my_card_balance, name="my_card_balance"),
    path("me/card/block/", card_views.my_card_block, name="my_card_block"),
    path("me/card/activate/", card_views.my_card_activate, name="my_card_activate"),
    path(
        "accounts/<uuid:person_id>/card/issue/",
        card_views.officer_card_issue,
        name="person_card_issue",
    ),
    path(
        "accounts/<uuid:person_id>/card/block/",
        card_views.officer_card_block,
        name="person_card_block",
    ),
    path(
        "accounts/<uuid:person_id>/card/activate/",
        card_views.officer_card_activate,
        name="person_card_activate",
    ),
    path(
        "accounts/<uuid:person_id>/card/replace/",
        card_views.officer_card_replace,
        name="person_card_replace",
    ),
    path(
        "accounts/<uuid:person_id>/card/balance/",
        card_views.officer_card_balance,
        name="person_card_balance",
    ),
]
