"""The demo province: real district names, demo staff of every role, synthetic citizens.

Idempotent: running it again keeps what exists and adds what is missing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rich.console import Console
from rich.table import Table

from rahdari.core import secrets as local_secrets
from rahdari.core.models import District

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoLogin:
    kind: str
    login: str
    secret: str
    role: str
    note: str


STAFF = [
    ("admin", "Farah Naz Khattak", ["administrator"], []),
    ("enrol.swat", "Sher Afzal Yousafzai", ["enrolment_officer"], ["Swat", "Buner"]),
    (
        "program.peshawar",
        "Nasreen Afridi",
        ["program_officer"],
        ["Peshawar", "Charsadda", "Nowshera", "Swat"],
    ),
    ("program.mardan", "Zarmina Khan Yousafzai", ["program_officer"], ["Mardan", "Swabi", "Swat"]),
    ("approver.finance", "Ijaz Ahmad Durrani", ["payment_approver"], ["Peshawar"]),
    ("grievance.mardan", "Bushra Bibi Mohmand", ["grievance_officer"], ["Mardan", "Swabi"]),
    ("counter.hospital", "Dr. Kamran Bangash", ["service_operator"], ["Peshawar"]),
    ("counter.school", "Shaheen Akhtar", ["service_operator"], ["Swat"]),
    ("counter.excise", "Waqar Ahmad Khalil", ["service_operator"], ["Peshawar"]),
    ("auditor", "Saima Qureshi", ["auditor"], []),
    ("agent.mingora", "Zarif Khan", ["payment_agent"], ["Swat", "Buner"]),
]


def demo_password() -> str:
    return local_secrets.local_secret(settings.VAR_DIR, "demo_password", 9)


def _ensure_staff(password: str) -> list[DemoLogin]:
    from rahdari.accounts.models import User
    from rahdari.accounts.roles import Role
    from rahdari.accounts.services import staff_create

    logins = []
    for username, name, roles, districts in STAFF:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = staff_create(
                username=username,
                full_name=name,
                password=password,
                roles=[Role(r) for r in roles],
                districts=list(District.objects.filter(name__in=districts)),
                actor=None,
            )
        note = ", ".join(districts) or "all districts"
        if user.requires_totp:
            device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
            if device is None:
                device = TOTPDevice.objects.create(user=user, name="demo", confirmed=True)
            note += f" · TOTP: `rahdari totp-code {username}`"
        logins.append(DemoLogin("staff", username, password, roles[0], note))
    return logins


def _ensure_citizens(count: int, seed: int) -> list[DemoLogin]:
    from rahdari.accounts.models import User
    from rahdari.accounts.services import citizen_register
    from rahdari.core.synthetic import generate_batches

    existing = User.objects.filter(is_citizen=True).count()
    logins: list[DemoLogin] = []
    if existing < count:
        from rahdari.core.synthetic import generate_batches

        # Adults spread evenly over a few thousand households, so every district shows up.
        candidates = list(
            _adults_with_phones(generate_batches(households=DEMO_HOUSEHOLDS, seed=seed))
        )
        step = max(1, len(candidates) // (count * 2))
        for person in candidates[::step]:
            if existing >= count:
                break
            language = ["ps", "ur", "en"][existing % 3]
            try:
                citizen_register(
                    cnic=person["national_id"],
                    phone=person["mobile"],
                    full_name=person["full_name"],
                    language=language,
                    actor=None,
                )
            except Exception:  # noqa: S112 — a generated duplicate is skipped, not fatal
                continue
            existing += 1
    for user in User.objects.filter(is_citizen=True).order_by("date_joined")[:3]:
        from rahdari.core.validators import format_cnic

        logins.append(
            DemoLogin(
                "citizen",
                format_cnic(user.cnic),
                "SMS code → /dev/outbox/",
                "citizen",
                f"language {user.preferred_language}",
            )
        )
    return logins


def _adults_with_phones(batches: Any, *, with_details: bool = False) -> Any:
    for batch in batches:
        persons, households = batch.persons, batch.households
        row_of = {hh: i for i, hh in enumerate(households["household_id"])}
        for i in range(len(persons["person_id"])):
            if persons["id_document"][i] != "cnic" or not persons["mobile"][i]:
                continue
            person = {
                "national_id": str(persons["national_id"][i]),
                "mobile": str(persons["mobile"][i]),
                "full_name": f"{persons['given_name'][i]} {persons['family_name'][i]}".strip(),
            }
            if with_details:
                h = row_of[persons["household_id"][i]]
                person.update(
                    full_name_ur=f"{persons['given_name_ur'][i]} {persons['family_name_ur'][i]}".strip(),
                    guardian_name=str(persons["father_or_husband_name"][i]),
                    guardian_name_ur=str(persons["father_or_husband_name_ur"][i]),
                    date_of_birth=str(persons["date_of_birth"][i]),
                    sex=str(persons["sex"][i]),
                    district=str(households["district"][h]),
                    tehsil=str(households["tehsil"][h]),
                    village=str(households["village"][h]),
                )
            yield person


DEMO_HOUSEHOLDS = 4000


def _ensure_identity(seed: int) -> None:
    """The authority's reference register, the demo citizens enrolled as persons, and the
    things an officer should find waiting: a duplicate to review, an enrolment that waited
    for the authority, a correction request."""
    from datetime import date

    from django.test import override_settings

    from rahdari.accounts.models import User
    from rahdari.core.keyring import blind_index
    from rahdari.identity import services as identity
    from rahdari.identity.models import Enrolment, NationalIdRecord, Person
    from rahdari.identity.national_id import reference_load_synthetic

    if Person.objects.exists():
        return
    with override_settings(RAHDARI_NID_LATENCY_MS=0):
        reference_load_synthetic(households=DEMO_HOUSEHOLDS, seed=seed)
        candidates = {
            p["national_id"]: p for p in _adults_with_phones(_batches(seed), with_details=True)
        }
        for citizen in User.objects.filter(is_citizen=True).order_by("date_joined"):
            person = candidates.get(citizen.cnic)
            if person is None:
                continue
            identity.person_enrol(
                data=_person_data(person),
                channel=Enrolment.Channel.IMPORT,
                consent_purpose="Demo province: enrolled from the synthetic registry",
                consent_language=citizen.preferred_language,
                actor=None,
                account=citizen,
            )
        officer = User.objects.get(username="enrol.swat")
        enrolled = set(Person.objects.values_list("national_id_index", flat=True))
        swat = [
            p
            for p in candidates.values()
            if p["district"] == "Swat" and blind_index("cnic", p["national_id"]) not in enrolled
        ][:3]
        if len(swat) == 3:
            original = _person_data(swat[0])
            identity.person_enrol(
                data=original,
                channel=Enrolment.Channel.ASSISTED,
                consent_purpose="demo",
                consent_language="ps",
                actor=officer,
            )
            # The same woman again, her name spelled another way, with another card number
            # that the register also knows: the officer finds the pair waiting for review.
            twin = _person_data(swat[0])
            twin.national_id = swat[0]["national_id"][:-2] + "8" + ("2" if twin.sex == "F" else "1")
            twin.full_name = twin.full_name.replace("Bibi", "Bi Bi").replace("Muhammad", "Mohammad")
            twin.full_name = twin.full_name[:-1] + twin.full_name[-1].lower()
            NationalIdRecord.objects.update_or_create(
                national_id_index=blind_index("cnic", twin.national_id),
                defaults={
                    "national_id": twin.national_id,
                    "full_name": twin.full_name,
                    "full_name_ur": twin.full_name_ur,
                    "guardian_name": twin.guardian_name,
                    "date_of_birth": twin.date_of_birth.isoformat(),
                    "sex": twin.sex,
                    "district": "Swat",
                },
            )
            identity.person_enrol(
                data=twin,
                channel=Enrolment.Channel.ASSISTED,
                consent_purpose="demo",
                consent_language="ps",
                actor=officer,
            )
            with override_settings(RAHDARI_NID_MODE="unavailable"):
                identity.person_enrol(
                    data=_person_data(swat[1]),
                    channel=Enrolment.Channel.ASSISTED,
                    consent_purpose="demo",
                    consent_language="ur",
                    actor=officer,
                )
        first = (
            Person.objects.filter(account__isnull=False, status="active")
            .order_by("created_at")
            .first()
        )
        if first is not None and first.account is not None:
            identity.correction_request(
                person=first,
                requested={"village": "Kalam"},
                explanation="We moved after the floods.",
                evidence=None,
                actor=first.account,
            )
    del date


def _ensure_registry(seed: int) -> None:
    """The same demo households in the social registry (members linked to the enrolled
    demo persons by national ID), through the import that `rahdari seed` uses; one Swat
    household's answers were later updated by the officer, so the page shows versions."""
    from rahdari.accounts.models import User
    from rahdari.core.synthetic import write_csv
    from rahdari.registry import imports
    from rahdari.registry import services as registry
    from rahdari.registry.models import Household

    if Household.objects.exists():
        return
    folder = settings.VAR_DIR / "demo-registry"
    write_csv(_batches(seed), folder)
    imports.registry_import(directory=folder)
    officer = User.objects.filter(username="enrol.swat").first()
    household = (
        Household.objects.filter(district__name="Swat", members__person__isnull=False)
        .order_by("number")
        .first()
    )
    if officer is not None and household is not None:
        registry.survey_answers_update(
            household=household,
            changes={"roof_material": "rcc", "has_fridge": True},
            source="officer_update",
            actor=officer,
            reason="Demo: the roof was rebuilt after the 2025 floods",
        )


def _batches(seed: int) -> Any:
    from rahdari.core.synthetic import generate_batches

    return generate_batches(households=DEMO_HOUSEHOLDS, seed=seed)


def _person_data(person: dict[str, Any]) -> Any:
    from datetime import date

    from rahdari.core.models import District
    from rahdari.identity.services import PersonData

    return PersonData(
        national_id=person["national_id"],
        id_document="cnic",
        full_name=person["full_name"],
        full_name_ur=person["full_name_ur"],
        guardian_name=person["guardian_name"],
        guardian_name_ur=person["guardian_name_ur"],
        date_of_birth=date.fromisoformat(person["date_of_birth"]),
        sex=person["sex"],
        mobile=person["mobile"],
        district=District.objects.get(name=person["district"]),
        tehsil=person["tehsil"],
        village=person["village"],
    )


def _ensure_credentials() -> None:
    """Every active person holds a QR credential (the enrolment event issued most of them);
    the key set shows a rotation with overlap; one card was reported lost and replaced,
    one credential is suspended; sample QR images for the counter verifier lie in
    var/demo-qr/, and the printable ID cards of Swat are made once."""
    from rahdari.core import qr
    from rahdari.credentials import services
    from rahdari.credentials.models import CardBatch, Credential, IssuerKey
    from rahdari.identity.models import Person

    active = Person.objects.filter(status="active").select_related("district", "account")
    services.credentials_issue_bulk(persons=list(active), actor=None)
    if IssuerKey.objects.count() == 1:
        # The demo's first key signed the credentials above; rotating now shows a key that
        # only verifies next to the one that signs, and both kinds of QR still verify.
        services.issuer_keys_rotate(actor=None, reason="demo: yearly rotation")
    holders = list(
        Credential.objects.filter(status="active", person__account__isnull=False)
        .select_related("person")
        .order_by("issued_at", "pk")[:3]
    )
    if len(holders) == 3 and not Credential.objects.exclude(status="active").exists():
        services.credential_issue(
            person=holders[1].person, actor=None, reason="demo: card reported lost"
        )
        services.credential_suspend(
            credential=holders[2], reason="demo: under investigation", actor=None
        )
    folder = settings.VAR_DIR / "demo-qr"
    folder.mkdir(parents=True, exist_ok=True)
    samples = {
        "valid-card.png": Credential.objects.filter(status="active").order_by("issued_at").first(),
        "replaced-revoked.png": Credential.objects.filter(status="superseded").first(),
        "suspended.png": Credential.objects.filter(status="suspended").first(),
    }
    for name, credential in samples.items():
        if credential is not None:
            text = credential.qr_card if name.endswith("card.png") else credential.qr_compact
            level = qr.EC_CARD if name.endswith("card.png") else qr.EC_COMPACT
            (folder / name).write_bytes(qr.qr_png(text, ec_level=level, scale=6))
    if not CardBatch.objects.exists():
        from rahdari.core.jobs import job_create, job_run
        from rahdari.core.models import District

        swat = District.objects.get(name="Swat")
        job = job_create(
            kind="credentials.print_cards",
            params={"district": swat.pk, "language": "ur"},
            actor=None,
            enqueue=False,
        )
        job_run(job_id=str(job.pk))


DEMO_PARTNERS = [
    (
        "Lady Reading Hospital, Peshawar",
        "لیڈی ریڈنگ ہسپتال، پشاور",
        "Health Department",
        "sehat-card",
        "counter.hospital",
    ),
    (
        "Government Girls High School No. 1, Mingora",
        "گورنمنٹ گرلز ہائی اسکول نمبر 1، مینگورہ",
        "Elementary and Secondary Education Department",
        "school-enrolment",
        "counter.school",
    ),
    (
        "Excise and Taxation Office, Peshawar",
        "ایکسائز اینڈ ٹیکسیشن آفس، پشاور",
        "Excise, Taxation and Narcotics Control Department",
        "excise-tax",
        "counter.excise",
    ),
]


def _ensure_gateway() -> None:
    """Three partner departments with their counter operators (client secrets saved in
    var/demo-partners.json for trying the API), and a citizen who shared her details
    with the hospital, gave it a standing consent, and has a school's request waiting."""
    import json
    import re

    from rahdari.accounts.models import User
    from rahdari.core.keyring import blind_index
    from rahdari.core.models import OutboundMessage
    from rahdari.gateway import services as gateway
    from rahdari.gateway.models import ConsentRequest, Partner, Service
    from rahdari.identity.models import Person

    if Partner.objects.exists():
        return
    saved = {}
    partners = {}
    for name, name_ur, department, slug, operator in DEMO_PARTNERS:
        service = Service.objects.get(slug=slug)
        partner, client_id, secret = gateway.partner_register(
            name=name,
            name_ur=name_ur,
            department=department,
            contact_email=f"{slug}@example.gov.pk",
            services=[service],
            allowed_scopes=service.scopes,
            operators=User.objects.filter(username=operator),
            actor=None,
        )
        partners[slug] = partner
        saved[slug] = {"partner": name, "client_id": client_id, "client_secret": secret}
    local_secrets.write_private(
        settings.VAR_DIR / "demo-partners.json", json.dumps(saved, indent=2) + "\n"
    )
    person = (
        Person.objects.filter(status="active", account__isnull=False, mobile__gt="")
        .exclude(credentials=None)
        .order_by("created_at")
        .first()
    )
    if person is None:
        return
    hospital = partners["sehat-card"]
    request, _token = gateway.consent_request_create(
        partner=hospital,
        service_slug="sehat-card",
        scopes=["identity.name", "identity.birth", "identity.guardian"],
        purpose="Admission to the medical ward under the Sehat Card",
        nonce="demo-1",
        rahdari_number=person.rahdari_number,
        standing_months=6,
        operator=User.objects.get(username="counter.hospital"),
    )
    message = (
        OutboundMessage.objects.filter(recipient_index=blind_index("phone", person.mobile))
        .filter(template__startswith="gateway.consent_code")
        .order_by("-created_at")
        .first()
    )
    code = re.search(r"\b(\d{6})\b", message.text if message else "")
    if code:
        gateway.consent_code_submit(request=request, code=code.group(1), partner=hospital)
        gateway.consent_request_create(  # the follow-up visit: released on the standing consent
            partner=hospital,
            service_slug="sehat-card",
            scopes=["identity.name", "identity.birth"],
            purpose="Follow-up visit, outpatient clinic",
            nonce="demo-2",
            rahdari_number=person.rahdari_number,
            operator=User.objects.get(username="counter.hospital"),
        )
    if not ConsentRequest.objects.filter(partner=partners["school-enrolment"]).exists():
        gateway.consent_request_create(
            partner=partners["school-enrolment"],
            service_slug="school-enrolment",
            scopes=["identity.name", "identity.guardian", "identity.address"],
            purpose="Enrolling her daughter in class 1",
            nonce="demo-3",
            rahdari_number=person.rahdari_number,
            operator=User.objects.get(username="counter.school"),
        )


def _demo_activity() -> None:
    """A staff look at the first citizen's account, so 'who looked at my data' shows a row."""
    from rahdari.accounts.models import User
    from rahdari.accounts.services import citizen_account_view
    from rahdari.core.models import AuditEntry

    if AuditEntry.objects.filter(action__endswith=".viewed").exists():
        return
    citizen = User.objects.filter(is_citizen=True).order_by("date_joined").first()
    officer = User.objects.filter(username="enrol.swat").first()
    if citizen and officer:
        citizen_account_view(
            actor=officer, citizen=citizen, purpose="Checking the mobile number before enrolment"
        )


def _ensure_programs() -> None:
    """Targeting runs over the demo registry: the cash transfer and the school top-up
    approved by a second officer (so their households are beneficiaries), the disability
    allowance computed and waiting for approval, a proposed change of the cash
    transfer's cut-off waiting for a second officer, and an appeal of an excluded
    household."""
    from rahdari.accounts.models import User
    from rahdari.core.jobs import job_run
    from rahdari.programs import services as programs
    from rahdari.programs.models import Decision, Program, TargetingRun

    if TargetingRun.objects.exists():
        return
    maker = User.objects.get(username="program.peshawar")
    checker = User.objects.get(username="program.mardan")
    for code, approve in (
        ("cash-transfer", True),
        ("school-top-up", True),
        ("disability-allowance", False),
    ):
        run = programs.targeting_run_start(program=Program.objects.get(code=code), actor=maker)
        job_run(job_id=str(run.job_id))
        if approve:
            programs.targeting_run_decide(
                run=run, approve=True, actor=checker, note="Checked the district totals"
            )
    cash = Program.objects.get(code="cash-transfer")
    current = programs.approved_version(cash)
    programs.program_version_propose(
        code="cash-transfer",
        definition=dict(current.definition) | {"cutoff": 34.0},
        note="Raise the cut-off to 34 from the next quarter (provincial budget 2027)",
        actor=maker,
    )
    excluded = (
        Decision.objects.filter(run__program=cash, eligible=False, reason=3)
        .select_related("household")
        .first()
    )
    if excluded is not None:
        programs.appeal_lodge(
            household=excluded.household,
            program=cash,
            grounds="We sold the motorcycle and the phone bill was a one-off; please resurvey.",
            actor=User.objects.get(username="grievance.mardan"),
            assisted=True,
        )


def demo_province(*, citizens: int = 40, seed: int = 2026) -> list[DemoLogin]:
    from rahdari.accounts.services import roles_sync
    from rahdari.core.keyring import keyring

    with transaction.atomic():
        roles_sync()
        keyring().active_key_id()
        logins = _ensure_staff(demo_password())
        logins += _ensure_citizens(citizens, seed)
        _demo_activity()
    _ensure_identity(seed)
    _ensure_registry(seed)
    _ensure_programs()
    _ensure_credentials()
    _ensure_gateway()
    _ensure_payments(seed)
    _ensure_ledger()
    _ensure_documents()
    _ensure_applications()
    _ensure_grievances(seed)
    return logins


def _ensure_payments(seed: int) -> None:
    """The providers' reference books; the cash transfer's payees enrolled (as an
    enrolment drive would) and many of them with a bank account or wallet they confirmed
    by SMS code; cycle 2026-Q4 prepared by program.peshawar, approved by
    approver.finance with his authenticator, put into batches, the bank files written to
    var/payment-files/ and sent to the reference bank, and its status reports applied."""
    import re

    from django.test import override_settings
    from phonenumbers import carrier, parse

    from rahdari.accounts.models import User
    from rahdari.core.jobs import job_run
    from rahdari.core.keyring import blind_index
    from rahdari.core.models import OutboundMessage
    from rahdari.identity import services as identity
    from rahdari.identity.models import Enrolment, Person
    from rahdari.payments import services as payments
    from rahdari.payments.models import PaymentCycle, ReferenceAccount
    from rahdari.payments.providers import account_index
    from rahdari.programs.models import Beneficiary, Program
    from rahdari.registry.models import HouseholdMember
    from rahdari.registry.selectors import household_payees

    if PaymentCycle.objects.exists():
        return
    with override_settings(RAHDARI_PAYMENT_PROVIDER_LATENCY=0, RAHDARI_NID_LATENCY_MS=0):
        payments.reference_accounts_load_synthetic(households=DEMO_HOUSEHOLDS, seed=seed)
        program = Program.objects.get(code="cash-transfer")
        households = list(
            Beneficiary.objects.filter(program=program, member__isnull=True)
            .order_by("household__number")
            .values_list("household_id", flat=True)
        )
        # The payees that have not enrolled yet: the ever-married women the survey listed.
        synthetic = {
            blind_index("cnic", p["national_id"]): p
            for p in _adults_with_phones(_batches(seed), with_details=True)
        }
        enrolled = set(Person.objects.values_list("national_id_index", flat=True))
        waiting = HouseholdMember.objects.filter(
            household_id__in=households,
            person__isnull=True,
            sex="F",
            marital_status__in=["married", "widowed", "divorced"],
        ).values_list("national_id_index", flat=True)
        for index in waiting:
            person = synthetic.get(index)
            if person is None or index in enrolled:
                continue
            enrolled.add(index)
            identity.person_enrol(
                data=_person_data(person),
                channel=Enrolment.Channel.IMPORT,
                consent_purpose="Demo province: enrolment drive for the cash transfer",
                consent_language="ur",
                actor=None,
            )
        iban_of = {
            blind_index("cnic", str(p["national_id"][i])): str(p["iban"][i])
            for p in (b.persons for b in _batches(seed))
            for i in range(len(p["person_id"]))
            if p["iban"][i]
        }
        officer = User.objects.get(username="enrol.swat")
        for n, person in enumerate(
            Person.objects.filter(pk__in=household_payees(households).values(), status="active")
        ):
            iban = iban_of.get(person.national_id_index)
            wallet = payments.WALLET_OF_OPERATOR.get(
                carrier.name_for_number(parse(str(person.mobile)), "en"), ""
            )
            has_wallet = ReferenceAccount.objects.filter(
                number_index=account_index("wallet", wallet, str(person.mobile))
            ).exists()
            if iban is None and (not has_wallet or n % 5 == 0):
                continue  # no account yet: her payments are held until she has one
            channel, number, provider = (
                ("bank", iban, "") if iban else ("wallet", str(person.mobile), wallet)
            )
            account = payments.payment_account_request(
                person=person, channel=channel, number=number, provider=provider, actor=officer
            )
            sms = (
                OutboundMessage.objects.filter(
                    recipient_index=blind_index("phone", str(person.mobile)),
                    template="payments.account_code",
                )
                .order_by("-created_at")
                .first()
            )
            code = re.search(r"\b(\d{6})\b", sms.text if sms else "")
            if code:
                payments.payment_account_confirm(account=account, code=code.group(1), actor=officer)
        carded = _demo_cards_issue(officer, household_payees(households).values())
        maker = User.objects.get(username="program.peshawar")
        approver = User.objects.get(username="approver.finance")
        cycle = payments.cycle_prepare(program=program, label="2026-Q4", actor=maker)
        job_run(job_id=str(cycle.job_id))
        cycle.refresh_from_db()
        cycle = payments.cycle_decide(
            cycle=cycle,
            approve=True,
            actor=approver,
            totp=current_totp(approver.username) or "",
            note="Control total checked against the budget release",
        )
        job_run(job_id=str(payments.batches_build(cycle=cycle, actor=maker).pk))
    # The reference bank answers at once here (two minutes when served): most payments
    # are credited, a few accounts turn out closed and wait for a new one, and a few are
    # closed just after the credit, the money coming back in a camt.054 return.
    with override_settings(
        RAHDARI_REFERENCE_BANK_DELAY_SECONDS=0, RAHDARI_REFERENCE_BANK_RETURN_RATE=0.1
    ):
        payments.cycle_send(cycle=cycle, actor=maker)
        payments.reports_collect()
    _demo_card_lost(officer, carded)
    _demo_after_payment(cycle)


DEMO_CARD_DISTRICTS = ["Swat", "Buner"]  # enrol.swat's districts, so he sees the cards


def _demo_code(person: Any, template: str) -> str:
    """The newest code of ``template`` sent to her phone (the demo reads its own outbox)."""
    import re

    from rahdari.core.keyring import blind_index
    from rahdari.core.models import OutboundMessage

    sms = (
        OutboundMessage.objects.filter(
            recipient_index=blind_index("phone", str(person.mobile)), template=template
        )
        .order_by("-created_at")
        .first()
    )
    found = re.search(r"\b(\d{6})\b", sms.text if sms else "")
    return found.group(1) if found else ""


def _demo_cards_issue(officer: Any, payees: Any) -> list[Any]:
    """Four payees of Swat and Buner get a Bank of Khyber prepaid card from enrol.swat (in
    place of the account they had, if any); each confirms it and starts it with the codes
    sent to her phone."""
    from django.test import override_settings

    from rahdari.identity.models import Person
    from rahdari.payments import cards, services

    people = list(
        Person.objects.filter(
            pk__in=payees, status="active", district__name__in=DEMO_CARD_DISTRICTS
        )
        .exclude(mobile_index="")
        .order_by("rahdari_number")[:4]
    )
    carded = []
    with override_settings(CITIZEN_OTP_MAX_PER_WINDOW=10):
        for person in people:
            card = cards.card_issue(person=person, provider="bok-card", actor=officer)
            code = _demo_code(person, "payments.account_code")
            card = services.payment_account_confirm(account=card, code=code, actor=officer)
            cards.card_activation_request(account=card, actor=officer)
            code = _demo_code(person, "payments.card_activation_code")
            carded.append(cards.card_activate(account=card, code=code, actor=officer))
    return carded


def _demo_card_lost(officer: Any, carded: list[Any]) -> None:
    """The first card holder lost her card after the cycle paid onto it: blocked at her
    word, and replaced at the office with her code — the money moved to the new card."""
    from django.test import override_settings

    from rahdari.payments import cards

    if not carded:
        return
    card = carded[0]
    with override_settings(CITIZEN_OTP_MAX_PER_WINDOW=10, RAHDARI_PAYMENT_PROVIDER_LATENCY=0):
        cards.card_block(account=card, reason="lost", actor=officer)
        cards.card_replacement_request(account=card, actor=officer)
        code = _demo_code(card.person, "payments.card_replacement_code")
        cards.card_replace(account=card, code=code, actor=officer)


def _ensure_ledger() -> None:
    """Sequence what the demo's approvals put in the public ledger and sign a tree head,
    so /ledger/ shows a signed log at once (the worker does this every minute too)."""
    from rahdari.ledger.services import ledger_publish

    ledger_publish()


def current_totp(username: str) -> str | None:
    device = TOTPDevice.objects.filter(user__username=username, confirmed=True).first()
    if device is None:
        return None
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


def print_logins(logins: list[DemoLogin], console: Console) -> None:
    console = Console(stderr=console.stderr, width=max(console.width, 150))
    table = Table(title="Rahdari demo province — logins (http://127.0.0.1:8000)")
    for column in ("kind", "login", "password / code", "role", "note"):
        table.add_column(column, no_wrap=column != "note")
    for item in logins:
        table.add_row(item.kind, item.login, item.secret, item.role, item.note)
    console.print(table)
    console.print(
        "Staff log in at /accounts/login/, citizens at /accounts/login/citizen/. "
        "Add ?lang=ur or ?lang=ps to any page for Urdu or Pashto."
    )
    console.print(
        "enrol.swat finds residents at /identity/: a possible duplicate, a correction request, "
        "and an enrolment that waited for the national ID authority (the worker verifies it)."
    )
    console.print(
        f"Social registry: {DEMO_HOUSEHOLDS} households at /registry/households/ (enrol.swat "
        "opens Swat households, their members and survey answers, and updates answers)."
    )
    console.print(
        "Programs at /programs/: program.peshawar prepares targeting runs and rule changes, "
        "program.mardan approves them (four eyes); the disability allowance's run and a "
        "cut-off change wait for approval; an appeal waits at /programs/appeals/. Anyone "
        "can check their likely eligibility at /eligibility/ (no login)."
    )
    console.print(
        "Public ledger at /ledger/ (no login): the approved enrolments' totals per district, "
        "signed tree heads and proofs; check it independently with "
        "`rahdari ledger verify --url http://127.0.0.1:8000`, and a receipt at /ledger/verify/."
    )
    console.print(
        "Payments: cash transfer cycle 2026-Q4 was prepared by program.peshawar and approved "
        "by approver.finance (with his authenticator); its bank files (ISO 20022 pain.001) "
        f"are in {settings.RAHDARI_PAYMENT_FILES_DIR / '2026-Q4'} and the reference bank's "
        "pain.002 reports were applied (paid, or failed with the bank's reason); "
        "`rahdari payments export --cycle ID --out DIR` writes the files again. A few "
        "credited accounts were closed and their money returned (camt.054): the cycle page "
        "lists them under 'Payments needing a decision'."
    )
    console.print(
        "Cash-out: agent.mingora hands out wallet payments at /payments/agent/ (scan a QR ID "
        "from the sample images); three were handed over, one beneficiary reported getting "
        "less (a deduction report). The auditor sees it at /payments/fraud-review/."
    )
    console.print(
        "Prepaid cards: enrol.swat gave four payees of Swat and Buner Bank of Khyber cards, "
        "paid by the cycle; one was lost, blocked and replaced with its money (her payments "
        "page at /payments/accounts/ shows both)."
    )
    console.print(
        "Applications: program.mardan's work queue at /applications/queue/ (Swat): one sent "
        "at the office and late, one under review, one waiting for the applicant's clearer "
        "ID photo, one decided, one rejected and appealed (program.peshawar decides the "
        "appeal: four eyes); enrol.swat applies for people at /applications/office/ and "
        "reviews a village-name correction. Applicants see the timeline under My "
        "applications, and every step reached them by SMS (/dev/outbox/)."
    )
    console.print(
        "Grievances: anyone lodges and checks complaints at /grievances/ (phone number only, "
        "or logged in). grievance.swat (Swat desk), grievance.malakand (Malakand cell) and "
        "grievance.mardan (Mardan desk), with the staff password, work the queue at "
        "/grievances/desk/ and the dashboard at /grievances/desk/dashboard/: a new complaint "
        "in Pashto, one answered and rated, one reopened, one escalated to the cell, a "
        "whistle-blower's report, and a deduction report that counts against the agent on "
        "the fraud review."
    )
    console.print(
        "QR ID: citizens see theirs under My QR ID; anyone can check one at /credentials/verify/ "
        f"(sample QR images in {settings.VAR_DIR / 'demo-qr'}); keys at "
        "/.well-known/rahdari-keys.json; enrol.swat issues, revokes and prints cards at "
        "/credentials/bulk/."
    )
    console.print(
        "Services: /gateway/services/. Partner client ids and secrets for the API (token at "
        f"/o/token/) are in {settings.VAR_DIR / 'demo-partners.json'}; the first citizen has "
        "shared data with the hospital and has a school's request waiting under My data sharing."
    )


def _demo_after_payment(cycle: Any) -> None:
    """After the cycle was paid: agent Zarif Khan hands out the cash of three wallet
    payments at the Mingora campsite — one beneficiary confirms by SMS, one on the web,
    one reports that she got Rs 1,500 less (a deduction report the fraud review counts)
    — and up to two payments nobody collected are recalled as unclaimed."""
    import json

    from django.test import override_settings

    from rahdari.accounts.models import User
    from rahdari.core.inbound import inbound_sms_receive, sign_inbound
    from rahdari.credentials.services import credential_issue
    from rahdari.payments import reconcile
    from rahdari.payments import services as payments
    from rahdari.payments.models import CashOut, Payment

    if CashOut.objects.exists():
        return
    agent = User.objects.get(username="agent.mingora")
    paid = list(
        Payment.objects.filter(
            cycle=cycle, status="paid", channel="wallet", district__name__in=["Swat", "Buner"]
        )
        .select_related("person")
        .order_by("id")[:5]
    )
    for n, payment in enumerate(paid[:3]):
        person = payment.person
        if person is None:
            continue
        qr = str(credential_issue(person=person, actor=None).qr_compact)
        cash_out = payments.cash_out_start(agent=agent, qr=qr, location="Mingora campsite, gate 2")
        code = _demo_code(person, "payments.cash_out_code")
        payments.cash_out_complete(cash_out=cash_out, code=code, amount=payment.amount, agent=agent)
        if n == 1:
            payments.cash_out_confirm(
                cash_out=cash_out, amount_received=payment.amount, via="web", actor=None
            )
            continue
        reply = "YES" if n == 0 else str(payment.amount - 1500)
        body = json.dumps(
            {"id": f"demo-{cash_out.pk}", "from": str(person.mobile), "text": reply}
        ).encode()
        inbound_sms_receive(gateway="jazz", body=body, signature=sign_inbound("jazz", body))
    # Payments nobody collected are recalled (after 90 days; the window is shortened here).
    with override_settings(RAHDARI_PAYMENT_COLLECTION_DAYS=0):
        reconcile.unclaimed_sweep(limit=2)


def _ensure_documents() -> None:
    """Papers for a few Swat residents: a photo of an ID card (a drawn specimen, not a real
    card) uploaded at the office by enrol.swat, a proof of income as a PDF, and one paper
    a citizen sent herself. Skipped for anyone who already has papers."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    from rahdari.accounts.models import User
    from rahdari.documents import services as documents
    from rahdari.documents.models import Document
    from rahdari.identity.selectors import persons_visible_to

    officer = User.objects.filter(username="enrol.swat").first()
    if officer is None:
        return
    persons = persons_visible_to(officer).filter(status="active").order_by("created_at")
    linked = persons.exclude(account=None).first()
    chosen = [p for p in persons[:3] if p != linked] + ([linked] if linked else [])
    for n, person in enumerate(chosen):
        if Document.objects.filter(person=person).exists():
            continue
        card = Image.new("RGB", (856, 540), (226, 240, 230))
        draw = ImageDraw.Draw(card)
        big, small = ImageFont.load_default(34), ImageFont.load_default(24)
        draw.rectangle((0, 0, 856, 70), fill=(31, 111, 67))
        draw.text((24, 16), "RAHDARI DEMO — SPECIMEN ID CARD", fill="white", font=big)
        draw.rectangle((40, 110, 260, 380), fill=(180, 190, 185), outline=(31, 111, 67), width=4)
        draw.text((300, 120), str(person.full_name), fill="black", font=big)
        draw.text((300, 180), f"District: {person.district.name}", fill="black", font=small)
        draw.text((300, 220), f"Rahdari no. {person.rahdari_number}", fill="black", font=small)
        draw.text((300, 440), "Not a real document", fill=(150, 30, 30), font=small)
        photo = io.BytesIO()
        card.save(photo, format="JPEG", quality=85)
        letter = Image.new("RGB", (595, 842), "white")
        text = ImageDraw.Draw(letter)
        text.text((50, 60), "Proof of income (demo)", fill="black", font=big)
        text.text(
            (50, 130), f"{person.full_name} earns PKR 9,000 a month", fill="black", font=small
        )
        text.text(
            (50, 170), "from tailoring at home. — Union council secretary", font=small, fill="black"
        )
        paper = io.BytesIO()
        letter.save(paper, format="PDF")
        own = person == linked and person.account is not None
        documents.document_upload(
            person=person,
            kind="cnic_front",
            data=photo.getvalue(),
            actor=person.account if own else officer,
            assisted=not own,
        )
        if n % 2 == 0:
            documents.document_upload(
                person=person,
                kind="income_proof",
                data=paper.getvalue(),
                actor=officer,
                assisted=True,
            )


def _demo_paper(person: Any, title: str) -> bytes:
    """A drawn specimen of a paper (never a real document) as a JPEG."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    card = Image.new("RGB", (856, 540), (236, 240, 226))
    draw = ImageDraw.Draw(card)
    big, small = ImageFont.load_default(34), ImageFont.load_default(24)
    draw.rectangle((0, 0, 856, 70), fill=(31, 111, 67))
    draw.text((24, 16), f"RAHDARI DEMO — SPECIMEN {title.upper()}", fill="white", font=big)
    draw.text((40, 130), str(person.full_name), fill="black", font=big)
    draw.text((40, 190), f"{person.village or ''} {person.district.name}", fill="black", font=small)
    draw.text((40, 440), "Not a real document", fill=(150, 30, 30), font=small)
    out = io.BytesIO()
    card.save(out, format="JPEG", quality=85)
    return out.getvalue()


def _ensure_applications() -> None:
    """Applications of Swat in every step of the workflow, made the way people make them:
    on the phone or at the office (enrol.swat, assisted), reviewed by program.mardan, an
    appeal for program.peshawar (four eyes), a correction for enrol.swat, one step late."""
    from datetime import timedelta

    from django.utils import timezone

    from rahdari.accounts.models import User
    from rahdari.applications import services as applications
    from rahdari.applications.models import Application
    from rahdari.core.errors import ApplicationError
    from rahdari.documents import selectors as papers
    from rahdari.documents import services as documents
    from rahdari.identity.selectors import persons_visible_to
    from rahdari.programs.models import Program
    from rahdari.registry.selectors import household_of_person

    if Application.objects.exists():
        return
    names = ["enrol.swat", "program.mardan", "program.peshawar"]
    users = {u.username: u for u in User.objects.filter(username__in=names)}
    program = Program.objects.filter(code="cash-transfer", open=True).first()
    if len(users) < len(names) or program is None:
        return
    enrol, reviewer = users["enrol.swat"], users["program.mardan"]
    chosen: list[Any] = []
    households: set[Any] = set()
    swat = persons_visible_to(enrol).filter(status="active", district__name="Swat")
    for person in swat.order_by("created_at")[:300]:
        household = household_of_person(person)
        if household is not None and household.pk not in households:
            chosen.append(person)
            households.add(household.pk)
        if len(chosen) == 6:
            break
    if len(chosen) < 6:
        return

    def sent(person: Any, *, correction: dict[str, str] | None = None) -> Any:
        own = person.account is not None
        actor = person.account if own else enrol
        draft = applications.application_start(
            person=person,
            kind="correction" if correction else "program",
            program=None if correction else program,
            actor=actor,
        )
        if correction:
            applications.application_save(
                application=draft, actor=actor, statement="", correction=correction
            )
        have = papers.latest_versions(person=person, kinds=["cnic_front", "cnic_back"])
        for side in ("cnic_front", "cnic_back"):
            if side not in have:
                documents.document_upload(
                    person=person,
                    kind=side,
                    data=_demo_paper(person, "ID card " + side[5:]),
                    actor=actor,
                    assisted=not own,
                )
        return applications.application_submit(application=draft, actor=actor)

    try:
        late = sent(chosen[0])
        Application.objects.filter(pk=late.pk).update(
            status_changed_at=timezone.now() - timedelta(days=5),
            due_at=timezone.now() - timedelta(days=2),
        )
        applications.application_review_start(application=sent(chosen[1]), actor=reviewer)
        waiting = applications.application_review_start(application=sent(chosen[2]), actor=reviewer)
        applications.application_request_info(
            application=waiting,
            actor=reviewer,
            reason=(
                "The photo of the back of your ID card is not readable. "
                "Please send a clearer photo."
            ),
        )
        decided = applications.application_review_start(application=sent(chosen[3]), actor=reviewer)
        try:
            applications.application_decide(
                application=decided, actor=reviewer, approve=True, reason="Papers and survey agree."
            )
        except ApplicationError as refused:  # the rules find this household better off
            applications.application_decide(
                application=decided, actor=reviewer, approve=False, reason=str(refused.message)
            )
        appealed = applications.application_review_start(
            application=sent(chosen[4]), actor=reviewer
        )
        applications.application_decide(
            application=appealed,
            actor=reviewer,
            approve=False,
            reason="The survey found a salaried member; the household is above the cut-off.",
        )
        applications.application_appeal(
            application=appealed,
            actor=chosen[4].account or enrol,
            grounds="My son lost his job at the factory in September; he earns nothing now.",
        )
        sent(chosen[5], correction={"village": "Saidu Sharif"})
    except ApplicationError:
        logger.exception("demo applications: a step was refused")


def _ensure_grievances(seed: int) -> None:
    """Grievance desks for every district, division and the province, with officers on
    the Swat desk (grievance.swat), the Malakand cell (grievance.malakand) and the Mardan
    desk (grievance.mardan); complaints of Swat in every state: a new one in Pashto from a
    phone only, one answered and rated, one reopened, one escalated for lack of an
    answer, a whistle-blower's report at the cell, and a deduction complaint that
    disputes a confirmed cash-out (one more report against the agent on the fraud review).
    Skipped once a complaint other than a cash-out's deduction report exists."""
    from datetime import timedelta

    from django.utils import timezone

    from rahdari.accounts.models import User
    from rahdari.accounts.roles import Role
    from rahdari.accounts.services import staff_create
    from rahdari.core.errors import ApplicationError
    from rahdari.grievances import services as grievances
    from rahdari.grievances.models import Complaint, Desk
    from rahdari.payments.models import CashOut

    grievances.desks_setup(actor=None)
    officers: dict[str, Any] = {}
    for username, name, area, level in [
        ("grievance.swat", "Gulalai Afridi", "Swat", 1),
        ("grievance.malakand", "Sana Yousafzai", "Malakand", 2),
        ("grievance.mardan", "", "Mardan", 1),
    ]:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = staff_create(
                username=username,
                full_name=name,
                password=demo_password(),
                roles=[Role.GRIEVANCE_OFFICER],
                districts=list(District.objects.filter(name=area)),
                actor=None,
            )
        desk = Desk.objects.get(level=level, area=area)
        if not desk.officers.filter(pk=user.pk).exists():
            grievances.desk_officer_add(desk=desk, officer=user, actor=None)
        officers[username] = user
    # The payments demo's deduction report already opened a complaint (linked to its
    # cash-out); the rest is made once.
    if Complaint.objects.filter(cash_out__isnull=True).exists():
        return
    swat, mardan = District.objects.get(name="Swat"), District.objects.get(name="Mardan")
    officer = officers["grievance.swat"]

    def lodge(**fields: Any) -> Any:
        defaults: dict[str, Any] = {
            "language": "ps",
            "channel": "web_phone",
            "actor": None,
            "district": swat,
        }
        return grievances.complaint_lodge(**{**defaults, **fields})

    try:
        lodge(
            category="payment_not_received",
            text="زما د اکتوبر قسط په جاز کیش والټ کې نه دی راغلی.",
            phone="+923451110001",
            complainant_name="Bakht Bibi",
        )
        answered = lodge(
            category="qr_id_problem",
            text="My QR card does not scan at the Saidu hospital counter.",
            phone="+923451110002",
            language="ur",
            channel="sms",
        )
        grievances.complaint_take(complaint=answered, actor=officer)
        grievances.complaint_note_add(
            complaint=answered, actor=officer, note="Card printed before the key rotation."
        )
        answered = grievances.complaint_resolve(
            complaint=answered,
            actor=officer,
            outcome="fixed",
            resolution="A new card is ready at the Mingora office; bring your CNIC.",
        )
        grievances.complaint_rate(complaint=answered, rating=4, actor=None)
        reopened = lodge(
            category="data_correction",
            text="My father's name is spelt wrong on my record.",
            phone="+923451110003",
            channel="call",
            actor=officer,
        )
        reopened = grievances.complaint_resolve(
            complaint=reopened,
            actor=officer,
            outcome="referred",
            resolution="Sent to the enrolment office for a correction.",
        )
        grievances.complaint_reopen(
            complaint=reopened, reason="Nobody from the office called me.", actor=None
        )
        lodge(
            category="agent_deduction",
            text="د کمپ اجنټ زما له قسط نه پنځه سوه روپۍ واخیستې.",
            phone="+923451110004",
        )
        lodge(
            category="misconduct",
            text="A clerk at the tehsil office asked for Rs 2,000 to add our household.",
            phone="+923451110005",
            district=mardan,
            language="ur",
        )
        # Nobody answered the deduction complaint in time: the worker escalates it.
        grievances.complaints_escalate_overdue(now=timezone.now() + timedelta(days=6))
        confirmed = (
            CashOut.objects.filter(status=CashOut.Status.CONFIRMED)
            .select_related("person")
            .order_by("created_at")
            .first()
        )
        if confirmed is not None and confirmed.person.mobile:
            lodge(
                category="agent_deduction",
                text="I said yes in front of the agent, but he kept Rs 500.",
                phone=str(confirmed.person.mobile),
                person=confirmed.person,
                cash_out=confirmed,
                amount_received=confirmed.amount_due - 500,
                actor=officers["grievance.swat"],
                channel="office",
                language="ur",
            )
    except ApplicationError:
        logger.exception("demo grievances: a step was refused")
