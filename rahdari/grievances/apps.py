from __future__ import annotations

from django.apps import AppConfig


class GrievancesConfig(AppConfig):
    name = "rahdari.grievances"
    label = "grievances"
    verbose_name = "Grievances"

    def ready(self) -> None:
        from rahdari.core.inbound import register_inbound_handler
        from rahdari.core.jobs import register_periodic
        from rahdari.grievances import services
        from rahdari.payments import services as payments

        # Complaints past their deadline go one level up; answers nobody reopened
        # within the window are closed.
        register_periodic("grievances.escalate_overdue", services.complaints_escalate_overdue)
        register_periodic("grievances.close_settled", services.complaints_close_settled)
        # "SHIKAYAT <text>" (or شکایت) sent to the platform's number lodges a complaint.
        register_inbound_handler("grievances.sms", services.complaint_sms_handler)
        # A deduction reported at the cash-out check is a complaint too (one step).
        payments.register_deduction_listener(services.complaint_from_deduction)
