from __future__ import annotations

from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "rahdari.payments"
    label = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from rahdari.core.inbound import register_inbound_handler
        from rahdari.core.jobs import register_periodic
        from rahdari.payments import (  # also registers the job kinds
            reconcile,
            sending,  # noqa: F401 (registers the send job)
            services,
        )

        # The banks' status reports are fetched and applied every minute.
        register_periodic("payments.collect_reports", services.reports_collect)
        register_periodic("payments.recheck_accounts", services.payment_accounts_recheck)
        # Wallet and card payments nobody collected in time are recalled.
        register_periodic("payments.recall_unclaimed", reconcile.unclaimed_sweep)
        # A beneficiary's SMS reply to the cash-out check ("YES" or the amount she got).
        register_inbound_handler("payments.cash_out", services.cash_out_sms_handler)
