"""Applications end to end through the services: prefilled start, papers reused, every
move audited with an SMS, four eyes on appeals, enrolment by the rules, corrections
applied to the ID record, and every refusal leaving nothing half-done."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from rahdari.applications import rules, services
from rahdari.applications.models import Application, ApplicationDocument, ApplicationEvent
from rahdari.core.errors import ApplicationError, Conflict, Forbidden
from rahdari.core.models import AuditEntry, OutboundMessage
from rahdari.core.tracking import is_valid_tracking_number, new_tracking_number
from rahdari.documents.models import DocumentVersion
from rahdari.identity.models import Person
from rahdari.programs.models import Beneficiary, Program
from tests.applications.conftest import give_id_card
from tests.documents.conftest import photo

pytestmark = pytest.mark.django_db


def messages_to(person: Person) -> list[OutboundMessage]:
    return [
        m for m in OutboundMessage.objects.order_by("created_at") if m.recipient == person.mobile
    ]


def test_start_is_prefilled_and_numbered(draft: Application, applicant: Person) -> None:
    assert is_valid_tracking_number(draft.number, "application")
    assert draft.status == "draft" and not draft.assisted
    assert draft.household is not None and draft.district == applicant.district
    event = draft.events.get()
    assert (event.from_status, event.to_status) == ("", "draft")
    assert AuditEntry.objects.filter(
        action="applications.started", subject_id=str(draft.pk)
    ).exists()


def test_send_links_papers_she_already_has_without_asking_again(
    draft: Application, applicant: Person
) -> None:
    give_id_card(applicant)
    before = DocumentVersion.objects.count()
    sent = services.application_submit(application=draft, actor=applicant.account)
    assert sent.status == "submitted"
    assert sent.due_at is not None and sent.submitted_at is not None
    assert DocumentVersion.objects.count() == before  # nothing uploaded again
    assert set(
        ApplicationDocument.objects.filter(application=sent).values_list("kind", flat=True)
    ) == {
        "cnic_front",
        "cnic_back",
    }
    check = services.rules_check_of(sent)
    assert check is not None and sent.rules_eligible == check.eligible
    sms = messages_to(applicant)[-1]
    assert sms.template == "applications.submitted" and sms.language == "ur"


def test_send_without_papers_names_them_and_changes_nothing(
    draft: Application, applicant: Person
) -> None:
    with pytest.raises(ApplicationError) as refused:
        services.application_submit(application=draft, actor=applicant.account)
    assert refused.value.code == "documents_missing"
    assert len(refused.value.fields["documents"]) == 2
    draft.refresh_from_db()
    assert draft.status == "draft" and draft.submitted_at is None
    assert not ApplicationDocument.objects.filter(application=draft).exists()
    assert draft.events.count() == 1


def test_one_open_application_per_household(draft: Application, cash_transfer: Program) -> None:
    with pytest.raises(Conflict) as refused:
        services.application_start(
            person=draft.person, kind="program", program=cash_transfer, actor=draft.person.account
        )
    assert refused.value.code == "already_open"
    assert Application.objects.count() == 1


def test_a_closed_program_refuses_applications(applicant: Person, cash_transfer: Program) -> None:
    Program.objects.filter(pk=cash_transfer.pk).update(open=False)
    cash_transfer.refresh_from_db()
    with pytest.raises(Conflict) as refused:
        services.application_start(
            person=applicant, kind="program", program=cash_transfer, actor=applicant.account
        )
    assert refused.value.code == "program_closed"
    assert not Application.objects.exists()


def test_a_program_closing_after_the_draft_refuses_the_send(
    draft: Application, cash_transfer: Program
) -> None:
    give_id_card(draft.person)
    Program.objects.filter(pk=cash_transfer.pk).update(open=False)
    with pytest.raises(Conflict):
        services.application_submit(application=draft, actor=draft.person.account)
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_someone_else_may_not_act(
    draft: Application, make_citizen: Callable[..., Any], make_staff: Callable[..., Any]
) -> None:
    from rahdari.accounts.roles import Role

    stranger = make_citizen(phone="+923451112233")
    mardan = make_staff(Role.ENROLMENT_OFFICER, ["Mardan"])
    give_id_card(draft.person)
    for actor in (stranger, mardan):
        with pytest.raises(Forbidden):
            services.application_submit(application=draft, actor=actor)
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_the_whole_journey_enrols_the_household(
    submitted: Application,
    reviewer: Any,
    approved_run: Callable[[], Any],
    applicant: Person,
) -> None:
    approved_run()
    Beneficiary.objects.filter(household=submitted.household).delete()
    with pytest.raises(Forbidden):  # the applicant does not review herself
        services.application_review_start(application=submitted, actor=applicant.account)
    reviewing = services.application_review_start(application=submitted, actor=reviewer)
    assert reviewing.status == "under_review" and reviewing.reviewer == reviewer
    asked = services.application_request_info(
        application=reviewing, actor=reviewer, reason="The photo of the back is blurred"
    )
    assert asked.status == "info_requested"
    assert asked.due_at is not None
    assert asked.due_at - asked.status_changed_at == timedelta(days=14)
    # She sends a clearer photo: the answer links the new version.
    newer = services.documents.latest_versions(person=applicant, kinds=["cnic_back"])["cnic_back"]
    from rahdari.documents import services as documents

    clearer = documents.document_upload(
        person=applicant, kind="cnic_back", data=photo(), actor=applicant.account
    )
    answered = services.application_respond(
        application=asked, actor=applicant.account, statement="Sent a clearer one."
    )
    assert answered.status == "submitted"
    linked = ApplicationDocument.objects.get(application=answered, kind="cnic_back").version
    assert linked == clearer and linked != newer
    services.application_review_start(application=answered, actor=reviewer)
    approved = services.application_decide(
        application=answered, actor=reviewer, approve=True, reason=""
    )
    assert approved.status == "approved" and approved.decided_at is not None
    assert Beneficiary.objects.filter(
        household=approved.household, program=approved.program, status="active"
    ).exists()
    moves = list(approved.events.values_list("to_status", flat=True))
    assert moves == [
        "draft",
        "submitted",
        "under_review",
        "info_requested",
        "submitted",
        "under_review",
        "approved",
    ]
    templates = [
        m.template for m in messages_to(applicant) if m.template.startswith("applications.")
    ]
    assert templates == [
        "applications.submitted",
        "applications.under_review",
        "applications.info_requested",
        "applications.submitted",
        "applications.under_review",
        "applications.approved",
    ]
    info = next(m for m in messages_to(applicant) if m.template == "applications.info_requested")
    assert "blurred" in info.text
    assert AuditEntry.objects.filter(action="applications.approved").count() == 1


def test_approval_needs_the_rules_to_agree(
    enrolled_payee: Callable[..., Person],
    make_citizen: Callable[..., Any],
    cash_transfer: Program,
    reviewer: Any,
    approved_run: Callable[[], Any],
) -> None:
    """A household the rules find better off is not enrolled by an approval: refused,
    and the application stays under review for a rejection with the reason."""
    approved_run()
    rich = enrolled_payee(
        "Swat",
        has_car=True,
        has_air_conditioner=True,
        has_fridge=True,
        has_tv=True,
        has_washing_machine=True,
        land_acres=40,
        rooms=8,
        roof_material="rcc",
        wall_material="burnt_brick",
        electricity_bill_pkr=25000,
        head_education_years=16,
    )
    rich.account = make_citizen(phone=str(rich.mobile))
    rich.save(update_fields=["account"])
    draft = services.application_start(
        person=rich, kind="program", program=cash_transfer, actor=rich.account
    )
    give_id_card(rich)
    sent = services.application_submit(application=draft, actor=rich.account)
    assert sent.rules_eligible is False
    services.application_review_start(application=sent, actor=reviewer)
    Beneficiary.objects.filter(household=sent.household).delete()
    with pytest.raises(Conflict) as refused:
        services.application_decide(application=sent, actor=reviewer, approve=True, reason="")
    assert refused.value.code == "not_eligible"
    sent.refresh_from_db()
    assert sent.status == "under_review" and sent.decided_at is None
    assert not Beneficiary.objects.filter(household=sent.household).exists()
    assert not sent.events.filter(to_status="approved").exists()


def test_reject_needs_a_reason_and_an_appeal_needs_another_officer(
    submitted: Application, reviewer: Any, second_reviewer: Any, applicant: Person
) -> None:
    services.application_review_start(application=submitted, actor=reviewer)
    with pytest.raises(ApplicationError) as no_reason:
        services.application_decide(
            application=submitted, actor=reviewer, approve=False, reason=" "
        )
    assert no_reason.value.code == "reason_required"
    rejected = services.application_decide(
        application=submitted, actor=reviewer, approve=False, reason="Not resident in Swat"
    )
    assert rejected.status == "rejected" and rejected.rejected_by == reviewer
    sms = messages_to(applicant)[-1]
    assert sms.template == "applications.rejected" and "Swat" in sms.text
    appealed = services.application_appeal(
        application=rejected, actor=applicant.account, grounds="I live in Mingora since 2019."
    )
    assert appealed.status == "appealed"
    with pytest.raises(Forbidden) as own:
        services.application_decide(application=appealed, actor=reviewer, approve=False, reason="x")
    assert own.value.code == "four_eyes"
    final = services.application_decide(
        application=appealed, actor=second_reviewer, approve=False, reason="Utility bill is Mardan"
    )
    assert final.status == "rejected"
    with pytest.raises(Conflict) as twice:
        services.application_appeal(application=final, actor=applicant.account, grounds="again")
    assert twice.value.code == "appealed_once"


def test_an_appeal_after_thirty_days_is_refused(
    submitted: Application, reviewer: Any, applicant: Person
) -> None:
    services.application_review_start(application=submitted, actor=reviewer)
    services.application_decide(application=submitted, actor=reviewer, approve=False, reason="No")
    Application.objects.filter(pk=submitted.pk).update(
        status_changed_at=timezone.now() - timedelta(days=rules.APPEAL_DAYS + 1)
    )
    with pytest.raises(Conflict) as late:
        services.application_appeal(application=submitted, actor=applicant.account, grounds="why")
    assert late.value.code == "appeal_too_late"
    submitted.refresh_from_db()
    assert submitted.status == "rejected"


def test_a_move_the_table_forbids_changes_nothing(submitted: Application, reviewer: Any) -> None:
    with pytest.raises(Conflict) as refused:
        services.application_decide(application=submitted, actor=reviewer, approve=True, reason="")
    assert refused.value.code == "invalid_transition"
    submitted.refresh_from_db()
    assert submitted.status == "submitted"
    assert not ApplicationEvent.objects.filter(application=submitted, to_status="approved").exists()


def test_withdraw(submitted: Application, applicant: Person) -> None:
    withdrawn = services.application_withdraw(application=submitted, actor=applicant.account)
    assert withdrawn.status == "withdrawn" and withdrawn.due_at is None
    # Withdrawn is closed: she may apply again.
    again = services.application_start(
        person=applicant, kind="program", program=submitted.program, actor=applicant.account
    )
    assert again.status == "draft"


def test_assisted_application_at_the_office(
    applicant: Person, desk_officer: Any, cash_transfer: Program
) -> None:
    draft = services.application_start(
        person=applicant, kind="program", program=cash_transfer, actor=desk_officer
    )
    assert draft.assisted and draft.created_by == desk_officer
    give_id_card(applicant)
    sent = services.application_submit(application=draft, actor=desk_officer)
    event = sent.events.get(to_status="submitted")
    assert event.by_officer and event.actor == desk_officer
    entry = AuditEntry.objects.get(action="applications.submitted", subject_id=str(sent.pk))
    assert entry.changes["assisted"] is True


def test_a_correction_is_applied_to_her_id_record(applicant: Person, desk_officer: Any) -> None:
    draft = services.application_start(
        person=applicant, kind="correction", program=None, actor=applicant.account
    )
    with pytest.raises(ApplicationError) as nothing:
        services.application_submit(application=draft, actor=applicant.account)
    assert nothing.value.code == "nothing_requested"
    with pytest.raises(ApplicationError) as bad_date:
        services.application_save(
            application=draft,
            actor=applicant.account,
            statement="",
            correction={"date_of_birth": "31-02-1990"},
        )
    assert "date_of_birth" in bad_date.value.fields
    services.application_save(
        application=draft,
        actor=applicant.account,
        statement="The village is spelled wrongly.",
        correction={"village": "Saidu Sharif", "not_a_field": "x"},
    )
    draft.refresh_from_db()
    assert services.corrections_of(draft) == {"village": "Saidu Sharif"}
    assert services.required_kinds(draft) == ["cnic_front"]
    give_id_card(applicant)
    sent = services.application_submit(application=draft, actor=applicant.account)
    services.application_review_start(application=sent, actor=desk_officer)
    done = services.application_decide(
        application=sent, actor=desk_officer, approve=True, reason="Matches the CNIC"
    )
    applicant.refresh_from_db()
    assert applicant.village == "Saidu Sharif"
    assert done.correction_request is not None and done.correction_request.status == "applied"


def test_program_officer_does_not_review_corrections(applicant: Person, reviewer: Any) -> None:
    draft = services.application_start(
        person=applicant, kind="correction", program=None, actor=applicant.account
    )
    services.application_save(
        application=draft, actor=applicant.account, statement="", correction={"village": "Kabal"}
    )
    give_id_card(applicant)
    sent = services.application_submit(application=draft, actor=applicant.account)
    with pytest.raises(Forbidden):
        services.application_review_start(application=sent, actor=reviewer)


def test_bulk_reports_what_it_could_not_do(
    submitted: Application, reviewer: Any, second_reviewer: Any
) -> None:
    services.application_review_start(application=submitted, actor=second_reviewer)
    result = services.applications_bulk(applications=[submitted], action="review", actor=reviewer)
    assert result.done == [] and submitted.number in result.refused
    asked = services.applications_bulk(
        applications=[submitted], action="request_info", actor=reviewer, reason="Bring the B-Form"
    )
    assert asked.done == [submitted.number]
    with pytest.raises(ApplicationError):
        services.applications_bulk(applications=[submitted], action="request_info", actor=reviewer)


def test_status_by_sms_only_from_her_phone(submitted: Application, applicant: Person) -> None:
    reply = services.status_sms_handler(str(applicant.mobile), f"STATUS {submitted.number}")
    assert reply is not None and reply.template == "applications.status_reply"
    assert reply.language == "ur"
    other = services.status_sms_handler("+923009998877", f"status {submitted.number}")
    missing = services.status_sms_handler(
        str(applicant.mobile), f"STATUS {new_tracking_number('application')}"
    )
    assert other is not None and missing is not None
    assert other.template == missing.template == "applications.status_not_found"
    assert services.status_sms_handler(str(applicant.mobile), "YES") is None
