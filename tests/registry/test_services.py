"""Registry services: state and audit entry of each write, never an answer in the audit."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from django.utils import timezone

from rahdari.accounts.roles import Role
from rahdari.core.audit import audit_verify
from rahdari.core.errors import ApplicationError, Conflict, Forbidden
from rahdari.core.keyring import blind_index
from rahdari.core.models import AuditEntry
from rahdari.registry import services
from rahdari.registry.models import HouseholdMember, SurveyResponse
from tests.conftest import districts_named
from tests.registry.conftest import answers

pytestmark = pytest.mark.django_db


def _entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("seq"))


def test_household_with_members_and_answers(make_household: Any) -> None:
    household = make_household()
    assert household.number == "HH0000000001" and household.status == "active"
    assert household.members.count() == 6
    assert list(household.members.values_list("member_no", flat=True)) == [1, 2, 3, 4, 5, 6]
    response = household.responses.get()
    assert response.version == 1 and response.is_current and response.source == "survey"
    assert services.unpack_answers(response) == answers()
    created = _entries("registry.household_created")[0]
    assert created.subject_id == str(household.pk)
    assert created.changes == {"number": "HH0000000001", "district": household.district_id}
    assert len(_entries("registry.member_added")) == 6
    recorded = _entries("registry.survey_response_recorded")[0]
    assert recorded.changes == {"version": 1, "round": "NSER-2025", "source": "survey"}
    assert audit_verify().ok


def test_invalid_answers_are_all_refused_at_once(make_household: Any, survey_round: Any) -> None:
    household = make_household()
    with pytest.raises(ApplicationError) as caught:
        services.survey_response_record(
            household=household,
            round=survey_round,
            answers=answers(rooms=-2, roof_material="thatch", children_in_school=9),
            source="survey",
            collected_on=date(2025, 7, 1),
            actor=None,
        )
    assert caught.value.code == "invalid_answers"
    assert set(caught.value.fields) == {"rooms", "roof_material", "children_in_school"}
    assert household.responses.count() == 1


def test_update_makes_a_new_version_with_provenance(make_household: Any, make_staff: Any) -> None:
    officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"])
    household = make_household()
    first = services.survey_answers_update(
        household=household,
        changes={"roof_material": "rcc", "rooms": 2},  # rooms unchanged: not a change
        source="officer_update",
        actor=officer,
        reason="Roof rebuilt after the floods",
    )
    assert first.version == 2 and first.is_current and first.recorded_by == officer
    assert services.unpack_answers(first)["roof_material"] == "rcc"
    # Every answer but the roof still comes from the survey of 2025-07-01.
    assert "roof_material" not in first.provenance
    assert first.provenance["rooms"] == {"source": "survey", "date": "2025-07-01"}
    assert len(first.provenance) == 26

    second = services.survey_answers_update(
        household=household,
        changes={"has_tv": True},
        source="self_declared",
        actor=officer,
        reason="The household bought a television",
    )
    today = timezone.localdate().isoformat()
    assert second.version == 3
    assert second.provenance["roof_material"] == {"source": "officer_update", "date": today}
    assert second.provenance["rooms"] == {"source": "survey", "date": "2025-07-01"}
    assert "has_tv" not in second.provenance
    assert list(household.responses.order_by("version").values_list("is_current", flat=True)) == [
        False,
        False,
        True,
    ]
    entry = _entries("registry.survey_answers_updated")[0]
    assert entry.actor == officer
    assert entry.changes == {
        "version": 2,
        "source": "officer_update",
        "variables": ["roof_material"],
    }


def test_audit_never_holds_answer_values_or_names(make_household: Any, make_staff: Any) -> None:
    officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"])
    household = make_household()
    services.survey_answers_update(
        household=household,
        changes={"electricity_bill_pkr": 98765},
        source="officer_update",
        actor=officer,
        reason="new bill seen",
    )
    services.household_view(household=household, actor=officer, purpose="Checking the bill")
    text = json.dumps(list(AuditEntry.objects.values_list("changes", flat=True)))
    assert "98765" not in text and "1800" not in text and "iron_sheet" not in text
    assert "Gul Kalay" not in text and "new bill seen" not in text


def test_update_refuses_nonsense(make_household: Any, make_staff: Any) -> None:
    officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"])
    household = make_household()

    def update(**kwargs: Any) -> Any:
        return services.survey_answers_update(
            **{
                "household": household,
                "source": "officer_update",
                "actor": officer,
                "reason": "checked",
                **kwargs,
            }
        )

    with pytest.raises(ApplicationError) as caught:
        update(changes={"rooms": 2})
    assert caught.value.code == "no_changes"
    with pytest.raises(ApplicationError) as caught:
        update(changes={"rooms": 3}, reason=" ")
    assert caught.value.code == "reason_required"
    with pytest.raises(ApplicationError) as caught:
        update(changes={"children_5_16": 1})  # 2 of them are in school
    assert caught.value.code == "invalid_answers"
    assert caught.value.fields.keys() == {"children_in_school"}
    with pytest.raises(ApplicationError) as caught:
        update(changes={"rooms": 3}, source="survey")
    assert caught.value.code == "invalid_source"
    assert household.responses.count() == 1


def test_staff_need_the_permission_and_the_district(make_household: Any, make_staff: Any) -> None:
    household = make_household(district="Mardan")
    auditor = make_staff(Role.AUDITOR)
    swat_officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"])
    program_officer = make_staff(Role.PROGRAM_OFFICER, ["Mardan"])
    for actor in (auditor, swat_officer):
        with pytest.raises(Forbidden):
            services.household_view(household=household, actor=actor, purpose="curious")
    services.household_view(household=household, actor=program_officer, purpose="Targeting check")
    with pytest.raises(Forbidden):  # program officers read, they do not change answers
        services.survey_answers_update(
            household=household,
            changes={"rooms": 3},
            source="officer_update",
            actor=program_officer,
            reason="x",
        )


def test_reads_are_logged_on_the_household_and_each_enrolled_member(
    make_household: Any,
    make_staff: Any,
    registered: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from tests.identity.conftest import enrol

    officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"])
    household = make_household()
    head = household.members.get(member_no=1)
    # The head enrols later with the national ID the survey listed: the member is linked.
    data = registered(national_id="152020001000" + "1", sex="M")
    assert blind_index("cnic", data.national_id) == head.national_id_index
    with django_capture_on_commit_callbacks(execute=True):  # identity's events go out
        enrolment = enrol(data, officer)
    head.refresh_from_db()
    assert head.person_id == enrolment.person_id
    with pytest.raises(ApplicationError):
        services.household_view(household=household, actor=officer, purpose=" ")
    services.household_view(household=household, actor=officer, purpose="Home visit")
    read = AuditEntry.objects.get(action="registry.household.viewed")
    assert read.changes == {"purpose": "Home visit", "fields": ["survey_answers", "members"]}
    person_read = AuditEntry.objects.filter(
        action="identity.person.viewed", subject_id=str(head.person_id)
    ).latest("seq")
    assert person_read.changes["fields"] == ["household_survey_answers"]


def test_members_one_head_one_household_per_person(make_household: Any) -> None:
    household = make_household()
    other = make_household(district="Mardan")
    with pytest.raises(Conflict) as caught:
        services.household_member_add(
            household=household,
            data=services.MemberData("head", "M", 1970, "married"),
            actor=None,
        )
    assert caught.value.code == "head_exists"
    listed = household.members.get(member_no=4)
    with pytest.raises(Conflict) as caught:
        services.household_member_add(
            household=other,
            data=services.MemberData("other", "M", 2012, "never_married"),
            national_id="1520200010031",  # member 4 of the first household
            actor=None,
        )
    assert caught.value.code == "already_member"
    assert listed.national_id_index == blind_index("cnic", "1520200010031")
    # He moves: leaves the first household, then joins the other.
    services.household_member_update(
        member=listed, changes={"active": False}, actor=None, reason="moved to Mardan"
    )
    moved = services.household_member_add(
        household=other,
        data=services.MemberData("other", "M", 2012, "never_married"),
        national_id="1520200010031",
        actor=None,
    )
    assert moved.member_no == 7
    assert HouseholdMember.objects.filter(national_id_index=listed.national_id_index).count() == 2
    with pytest.raises(ApplicationError) as caught:
        services.household_member_add(
            household=other,
            data=services.MemberData("cousin", "Q", 1800, "single"),
            national_id="123",
            actor=None,
        )
    assert set(caught.value.fields) == {
        "relationship",
        "sex",
        "birth_year",
        "marital_status",
        "national_id",
    }


def test_household_number_is_generated_when_not_given(db: Any) -> None:
    household = services.household_create(
        district=districts_named(["Swat"])[0], area="urban", actor=None
    )
    assert household.number.startswith("HH9") and len(household.number) == 12
    assert SurveyResponse.objects.count() == 0
