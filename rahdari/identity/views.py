"""Identity pages: officers (search, assisted enrolment, person record, duplicate and
correction queues) and citizens (self-enrolment, my record)."""

from __future__ import annotations

import base64
import json
from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language, gettext_lazy, gettext_noop
from django.utils.translation import gettext as _

from rahdari.accounts import services as account_services
from rahdari.accounts.models import User, request_user
from rahdari.core.errors import ApplicationError
from rahdari.core.http import is_verified, render_page
from rahdari.identity import rules, selectors, services
from rahdari.identity.forms import (
    AssistedEnrolmentForm,
    CorrectionDecisionForm,
    CorrectionForm,
    DuplicateDecisionForm,
    PersonEditForm,
    PhoneCodeForm,
    PhoneStartForm,
    PurposeForm,
    SearchForm,
    SelfEnrolmentForm,
    StatusForm,
    consent_texts,
)
from rahdari.identity.models import Enrolment, Person

SELF_STEP = "rahdari_self_enrolment"

# What each piece of duplicate evidence means, for the officer comparing two records.
EVIDENCE_LABELS = {
    "name": gettext_lazy("Name"),
    "guardian": gettext_lazy("Father's or husband's name"),
    "dob": gettext_lazy("Date of birth"),
    "phone": gettext_lazy("Mobile number"),
    "sex": gettext_lazy("Sex"),
    "district": gettext_lazy("District"),
    "dob_exact": gettext_lazy("Same date of birth"),
    "dob_swapped_day_month": gettext_lazy("Day and month swapped"),
    "dob_off_by_one_year": gettext_lazy("Year differs by one"),
    "dob_year_digit": gettext_lazy("One digit of the year differs"),
    "dob_day_or_month_differs": gettext_lazy("Day or month differs"),
    "dob_same_year": gettext_lazy("Same year of birth"),
    "dob_different": gettext_lazy("Different date of birth"),
    "dob_year_only": gettext_lazy("Only the year is known"),
    "sex_conflict": gettext_lazy("Different sex"),
}
OPENED = "rahdari_opened_persons"
# Purposes the platform records for its own screens are stored in English and shown to
# the person in their language (officers' own reasons are shown as written).


def _officer(request: HttpRequest, perm: str = "accounts.enrol_persons") -> User:
    user = request_user(request)
    if user.is_citizen or not (
        user.has_perm(perm) or user.has_perm("accounts.view_citizen_account")
    ):
        raise PermissionDenied
    if user.requires_totp and not is_verified(user):
        raise PermissionDenied
    return user


# Services name a few fields differently from the forms that call them.
FIELD_ALIASES = {"phone": "mobile", "cnic": "national_id"}


def _apply_errors(form: Any, error: ApplicationError) -> None:
    mapped = False
    for name, msgs in error.fields.items():
        field = name if name in form.fields else FIELD_ALIASES.get(name, name)
        for msg in msgs:
            if field in form.fields:
                form.add_error(field, msg)
                mapped = True
    if not mapped:
        form.add_error(None, str(error.message))


def _data_from(form: Any, *, mobile: str | None = None) -> services.PersonData:
    data = form.cleaned_data
    upload = data.get("photo")
    return services.PersonData(
        national_id=data["national_id"],
        id_document=data["id_document"],
        full_name=data["full_name"],
        full_name_ur=data.get("full_name_ur", ""),
        guardian_name=data.get("guardian_name", ""),
        guardian_name_ur=data.get("guardian_name_ur", ""),
        date_of_birth=data["date_of_birth"],
        sex=data["sex"],
        mobile=mobile if mobile is not None else data.get("mobile", ""),
        district=data["district"],
        tehsil=data.get("tehsil", ""),
        union_council=data.get("union_council", ""),
        village=data.get("village", ""),
        photo=upload.read() if upload else None,
    )


@login_required
def officer_home(request: HttpRequest) -> HttpResponse:
    user = _officer(request)
    form = SearchForm(
        request.GET or None, districts=user.districts.all() if not user.all_districts else None
    )
    hits: list[selectors.SearchHit] = []
    if form.is_bound and form.is_valid():
        district = form.cleaned_data.get("district")
        hits = selectors.person_search(
            user=user,
            query=form.cleaned_data.get("q") or "",
            district_id=district.pk if district else None,
        )
    return render_page(
        request,
        "identity/officer_home.html",
        "identity/partials/_search_results.html",
        {
            "form": form,
            "hits": hits,
            "searched": form.is_bound,
            "duplicates": selectors.open_duplicates_for(user).count(),
            "corrections": selectors.open_corrections_for(user).count(),
            "can_enrol": user.has_perm("accounts.enrol_persons"),
        },
    )


@login_required
def enrol_assisted(request: HttpRequest) -> HttpResponse:
    user = _officer(request, "accounts.enrol_persons")
    if not user.has_perm("accounts.enrol_persons"):
        raise PermissionDenied
    districts = None if user.all_districts else user.districts.all()
    form = AssistedEnrolmentForm(
        request.POST or None,
        request.FILES or None,
        districts=districts,
        initial={"consent_language": get_language()},
    )
    if request.method == "POST" and form.is_valid():
        texts = consent_texts()
        try:
            enrolment = services.person_enrol(
                data=_data_from(form),
                channel=Enrolment.Channel.ASSISTED,
                consent_purpose=texts[form.cleaned_data["consent_language"]],
                consent_language=form.cleaned_data["consent_language"],
                actor=user,
            )
        except ApplicationError as error:
            _apply_errors(form, error)
        else:
            return redirect("identity:enrolment", enrolment_id=enrolment.pk)
    return render(
        request, "identity/enrol_assisted.html", {"form": form, "consent_texts": consent_texts()}
    )


@login_required
def enrolment_detail(request: HttpRequest, enrolment_id: str) -> HttpResponse:
    user = request_user(request)
    enrolment = get_object_or_404(
        Enrolment.objects.select_related("person__district"), pk=enrolment_id
    )
    person = enrolment.person
    if user.is_citizen:
        if person.account_id != user.pk:
            raise Http404
    elif not user.has_perm("accounts.act_in_district", person.district):
        raise Http404
    return render(
        request,
        "identity/enrolment.html",
        {
            "enrolment": enrolment,
            "person": person,
            "steps": selectors.enrolment_steps(enrolment),
            "number": rules.format_rahdari_number(person.rahdari_number or ""),
        },
    )


@login_required
def person_detail(request: HttpRequest, person_id: str) -> HttpResponse:
    """Opening a record asks why first; the read is logged and shown to the person."""
    user = _officer(request)
    person = get_object_or_404(selectors.persons_visible_to(user), pk=person_id)
    opened = request.session.get(OPENED, [])
    purpose_form = PurposeForm(request.POST if request.POST.get("action") == "open" else None)
    if purpose_form.is_bound and purpose_form.is_valid():
        services.person_view(
            person=person, actor=user, purpose=purpose_form.cleaned_data["purpose"]
        )
        request.session[OPENED] = [*opened[-49:], str(person.pk)]
        return redirect("identity:person", person_id=person.pk)
    if str(person.pk) not in opened:
        return render(
            request, "identity/person_open.html", {"person": person, "form": purpose_form}
        )
    status_form = StatusForm(request.POST if request.POST.get("action") == "status" else None)
    if status_form.is_bound and status_form.is_valid():
        try:
            services.person_change_status(
                person=person,
                status=status_form.cleaned_data["status"],
                reason=status_form.cleaned_data["reason"],
                actor=user,
            )
        except ApplicationError as error:
            _apply_errors(status_form, error)
        else:
            messages.success(request, _("The status was changed."))
            return redirect("identity:person", person_id=person.pk)
    return render(
        request,
        "identity/person.html",
        {
            "person": person,
            "status_form": status_form,
            "number": rules.format_rahdari_number(person.rahdari_number or ""),
            "enrolments": person.enrolments.all(),
            "versions": person.versions.select_related("changed_by"),
            "events": person.events.all()[:50],
        },
    )


@login_required
def person_edit(request: HttpRequest, person_id: str) -> HttpResponse:
    """Change a person's details: re-verified with the authority, the old version kept."""
    user = _officer(request, "accounts.enrol_persons")
    person = get_object_or_404(selectors.persons_visible_to(user), pk=person_id)
    if str(person.pk) not in request.session.get(OPENED, []):
        return redirect("identity:person", person_id=person.pk)
    current = services.person_data_of(person)
    initial = {
        f: getattr(current, f)
        for f in (
            "id_document",
            "national_id",
            "full_name",
            "full_name_ur",
            "guardian_name",
            "guardian_name_ur",
            "date_of_birth",
            "sex",
            "mobile",
            "district",
            "tehsil",
            "union_council",
            "village",
        )
    }
    form = PersonEditForm(
        request.POST or None,
        request.FILES or None,
        initial=initial,
        districts=None if user.all_districts else user.districts.all(),
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.person_update(
                person=person, data=_data_from(form), reason=form.cleaned_data["reason"], actor=user
            )
        except ApplicationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, _("The details were changed; the previous version is kept."))
            return redirect("identity:person", person_id=person.pk)
    return render(request, "identity/person_edit.html", {"person": person, "form": form})


@login_required
def duplicate_queue(request: HttpRequest) -> HttpResponse:
    user = _officer(request)
    return render(
        request,
        "identity/duplicates.html",
        {"candidates": selectors.open_duplicates_for(user)[:200]},
    )


@login_required
def duplicate_detail(request: HttpRequest, candidate_id: str) -> HttpResponse:
    user = _officer(request)
    candidate = get_object_or_404(selectors.open_duplicates_for(user), pk=candidate_id)
    form = DuplicateDecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.duplicate_decide(
                candidate=candidate,
                same_person=form.cleaned_data["decision"] == "same",
                reason=form.cleaned_data["reason"],
                actor=user,
            )
        except ApplicationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, _("Decision recorded."))
            return redirect("identity:duplicates")
    for person in (candidate.new_person, candidate.existing_person):
        services.person_view(person=person, actor=user, purpose=gettext_noop("duplicate review"))
    return render(
        request,
        "identity/duplicate.html",
        {
            "candidate": candidate,
            "form": form,
            "evidence": [
                (EVIDENCE_LABELS.get(key, key), value)
                for key, value in candidate.components.items()
            ],
        },
    )


@login_required
def correction_queue(request: HttpRequest) -> HttpResponse:
    user = _officer(request)
    return render(
        request,
        "identity/corrections.html",
        {"requests": selectors.open_corrections_for(user)[:200]},
    )


@login_required
def correction_detail(request: HttpRequest, request_id: str) -> HttpResponse:
    user = _officer(request)
    correction = get_object_or_404(selectors.open_corrections_for(user), pk=request_id)
    form = CorrectionDecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.correction_decide(
                request=correction,
                apply=form.cleaned_data["decision"] == "apply",
                note=form.cleaned_data["note"],
                actor=user,
            )
        except ApplicationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, _("Decision recorded."))
            return redirect("identity:corrections")
    services.person_view(
        person=correction.person, actor=user, purpose=gettext_noop("correction request")
    )
    return render(
        request,
        "identity/correction.html",
        {
            "correction": correction,
            "form": form,
            "requested": json.loads(correction.requested),
        },
    )


def self_enrol(request: HttpRequest) -> HttpResponse:
    """Self-enrolment: prove the mobile number with an SMS code, then fill in the details."""
    step = request.session.get(SELF_STEP) or {}
    if request.POST.get("step") == "restart":
        request.session.pop(SELF_STEP, None)
        return redirect("identity:self_enrol")
    if step.get("proved"):
        form = SelfEnrolmentForm(
            request.POST or None, request.FILES or None, initial={"mobile": step["mobile"]}
        )
        if request.method == "POST" and form.is_valid():
            try:
                enrolment = _self_enrol_submit(request, form, step["mobile"])
            except ApplicationError as error:
                _apply_errors(form, error)
            else:
                return redirect("identity:enrolment", enrolment_id=enrolment.pk)
        return render(
            request,
            "identity/self_enrol_form.html",
            {"form": form, "consent_text": consent_texts()[get_language() or "en"]},
        )
    if step.get("mobile"):
        code_form = PhoneCodeForm(request.POST or None)
        if request.method == "POST" and code_form.is_valid():
            try:
                account_services.phone_code_verify(
                    phone=step["mobile"], code=code_form.cleaned_data["code"]
                )
            except ApplicationError as error:
                _apply_errors(code_form, error)
            else:
                request.session[SELF_STEP] = {**step, "proved": True}
                return redirect("identity:self_enrol")
        return render(
            request, "identity/self_enrol_code.html", {"form": code_form, "masked": step["masked"]}
        )
    start = PhoneStartForm(request.POST or None)
    if request.method == "POST" and start.is_valid():
        try:
            phone = account_services.phone_code_request(
                phone=start.cleaned_data["mobile"], language=get_language() or "en"
            )
        except ApplicationError as error:
            _apply_errors(start, error)
        else:
            from rahdari.core.validators import mask_phone

            # The session keeps the number only until enrolment (it is the person's own).
            request.session[SELF_STEP] = {"mobile": phone, "masked": mask_phone(phone)}
            return redirect("identity:self_enrol")
    return render(request, "identity/self_enrol_start.html", {"form": start})


def _self_enrol_submit(request: HttpRequest, form: SelfEnrolmentForm, mobile: str) -> Enrolment:
    from django.db import transaction

    language = get_language() or "en"
    data = _data_from(form, mobile=mobile)
    with transaction.atomic():
        account = account_services.citizen_register(
            cnic=data.national_id,
            phone=mobile,
            full_name=data.full_name,
            language=language,
            actor=None,
        )
        enrolment = services.person_enrol(
            data=data,
            channel=Enrolment.Channel.SELF,
            consent_purpose=consent_texts()[language],
            consent_language=language,
            actor=account,
            account=account,
        )
    request.session.pop(SELF_STEP, None)
    login(request, account, backend="django.contrib.auth.backends.ModelBackend")
    return enrolment


@login_required
def my_record(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not user.is_citizen:
        raise PermissionDenied
    person = selectors.person_of_account(user)
    if person is None:
        return render(request, "identity/my_record_none.html")
    form = CorrectionForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        requested = {
            k: (v.isoformat() if hasattr(v, "isoformat") else v)
            for k, v in data.items()
            if k not in ("explanation", "evidence") and v
        }
        try:
            services.correction_request(
                person=person,
                requested=requested,
                explanation=data.get("explanation") or "",
                evidence=data["evidence"].read() if data.get("evidence") else None,
                actor=user,
            )
        except ApplicationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, _("Your request was sent to an officer."))
            return redirect("identity:my_record")
    enrolment = selectors.latest_enrolment(person)
    return render(
        request,
        "identity/my_record.html",
        {
            "person": person,
            "enrolment": enrolment,
            "steps": selectors.enrolment_steps(enrolment),
            "number": rules.format_rahdari_number(person.rahdari_number or ""),
            "reads": selectors.reads_of(person)[:100],
            "form": form,
            "corrections": person.corrections.all()[:20],
        },
    )


@login_required
def person_photo(request: HttpRequest, person_id: str) -> HttpResponse:
    """The photo, only for an officer who opened the record or the person themself."""
    user = request_user(request)
    if user.is_citizen:
        person = get_object_or_404(Person, pk=person_id, account=user)
    else:
        person = get_object_or_404(selectors.persons_visible_to(user), pk=person_id)
        # Seen only after the officer said why they opened the record (logged), or while
        # the person is one side of an open duplicate pair the officer is comparing.
        in_review = selectors.open_duplicates_for(user).filter(
            Q(new_person=person) | Q(existing_person=person)
        )
        if str(person.pk) not in request.session.get(OPENED, []) and not in_review.exists():
            raise PermissionDenied
    if not person.photo:
        raise Http404
    response = HttpResponse(base64.b64decode(person.photo), content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response
