"""Exactly once, with the worker killed: a 10,000-payment cycle of the cash transfer on
PostgreSQL. A real ``rahdari worker`` computes the cycle and builds its batches and is
SIGKILLed at random moments (more than 20 times during the batch job) and restarted
until the job is done; the batches are sent and the providers' reports collected by
processes that are killed too — once on purpose just after a provider took a batch and
before the batch was recorded as sent. Then every entitlement must have been instructed,
sent and paid exactly once, and the totals — batches, bank files, the public ledger, the
providers' own books, the SMS — must reconcile to the rupee (``reconcile``, itself shown
to catch a doubled event, batch or credit).

Sending (``cycle_send``) and report collection (``reports_collect``) are not jobs: the
worker runs ``reports_collect`` only as its once-a-minute hook, so here each runs in a
process of its own that is killed the same way. Where the platform cannot go on by
itself, the test does what an operator would (start the batch job again, have the bank
deliver its reports again), notes it, and fails at the end with every such problem.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from lxml import etree
from stdnum import verhoeff

from rahdari.core.keyring import blind_index
from rahdari.core.models import AuditEntry, Job, OutboundMessage
from rahdari.identity import matching
from rahdari.identity.models import Person
from rahdari.ledger import entries
from rahdari.ledger.models import DistrictTotal, LogEntry
from rahdari.ledger.services import ledger_integrate
from rahdari.payments import iso20022, rules, services
from rahdari.payments.models import (
    Payment,
    PaymentAccount,
    PaymentBatch,
    PaymentCycle,
    PaymentEvent,
    ProviderMessage,
    ReferenceAccount,
)
from rahdari.payments.providers import account_index
from rahdari.programs import services as programs
from rahdari.programs.models import Beneficiary, Program, ProgramVersion, TargetingRun
from rahdari.registry.models import Household, HouseholdMember
from tests.conftest import districts_named
from tests.payments.conftest import iban_for, totp_now

ROOT = Path(__file__).resolve().parents[2]
SEED = 20_261_204
BENEFICIARIES = 10_000
BATCH_SIZE = 60
COMPUTE_KILLS = 2
BUILD_KILLS = 24  # at least 20, six of them while the worker starts
BUILD_STARTUP_KILLS = 6
SEND_KILLS = 5  # plus one just after the bank took a file, before the batch was marked sent
COLLECT_KILLS = 4
STALE_SECONDS = 1
LABEL = "2026-Q4"

DISTRICTS = ["Peshawar", "Swat", "Mardan", "Bannu", "Abbottabad", "Dera Ismail Khan"]
AMOUNTS = [13_500, 13_500, 2_500, 13_500, 6_000, 13_500, 9_750, 13_500, 4_321, 13_500, 12_001]
GIVEN = ["Gul", "Shazia", "Rukhsana", "Nasreen", "Bushra", "Farzana", "Naheed", "Zarmina"]
FAMILY = ["Bibi Yousafzai", "Noor Afridi", "Begum Khattak", "Akhtar Marwat", "Jan Mohmand"]
BANKS = ["HABB", "MEZN", "UNIL"]
WALLETS = [("jazzcash", "300"), ("easypaisa", "345")]
LOW_LIMIT = 5_000


# --- The province: 10,000 households of the cash transfer, bulk-created -------------------


@dataclass(frozen=True)
class Entitlement:
    """What one beneficiary is owed and what should become of it: paid, failed with the
    provider's reason, or held with the cycle's reason."""

    index: int
    amount: int
    district: str
    hold: str
    channel: str
    provider: str
    outcome: str  # paid, failed, held
    reason: str = ""
    mobile: str = ""


def entitlement_plan(i: int) -> Entitlement:
    amount = AMOUNTS[i % len(AMOUNTS)]
    district = DISTRICTS[i % len(DISTRICTS)]
    wallet = i % 9 == 4
    provider, prefix = WALLETS[i % 2] if wallet else (BANKS[i % 3], "333")
    mobile = f"+92{prefix}{i:07d}" if wallet or i % 5 == 0 else ""
    hold = ""
    if i % 199 == 3:
        hold = Payment.Hold.SUSPENDED
    elif i % 211 == 5:
        hold = Payment.Hold.DECEASED
    elif i % 173 == 7 or i % 181 == 9:  # no account; an account in another name
        hold = Payment.Hold.NO_ACCOUNT
    if hold:
        return Entitlement(i, amount, district, hold, "", "", "held", mobile=mobile)
    reason = ""
    if i % 137 == 11:
        reason = "AC01"  # not in the provider's books
    elif i % 97 == 13:
        reason = "AC04"  # closed since it was verified
    elif i % 89 == 17:
        reason = "BE01"  # the provider now holds it in another name
    elif i % 151 == 19 and amount > LOW_LIMIT:
        reason = "AM02"  # above the account's daily limit
    return Entitlement(
        i,
        amount,
        district,
        "",
        "wallet" if wallet else "bank",
        provider,
        "failed" if reason else "paid",
        reason,
        mobile,
    )


def _rahdari_number(i: int) -> str:
    body = f"7{i:010d}"
    return body + str(verhoeff.calc_check_digit(body))


def province_create(*, count: int, officers: tuple[Any, Any]) -> dict[Any, Entitlement]:
    """What enrolment, the registry, a targeting run and the beneficiaries' account
    changes would have left: households with a husband and an enrolled wife (the payee),
    her verified account (bank, or a wallet for one in nine), the providers' books, an
    approved run and the beneficiaries. Returns beneficiary id → entitlement."""
    programs.programs_seed()  # a transactional test's flush empties the seeded programs
    districts = {d.name: d for d in districts_named(DISTRICTS)}
    program = Program.objects.get(code="cash-transfer")
    version = ProgramVersion.objects.get(program=program, status=ProgramVersion.Status.APPROVED)
    now = timezone.now()
    plans = [entitlement_plan(i) for i in range(count)]
    households, persons, members, accounts, books = [], [], [], [], []
    for plan in plans:
        i, district = plan.index, districts[plan.district]
        name = f"{GIVEN[i % len(GIVEN)]} {FAMILY[i % len(FAMILY)]}"
        household = Household(
            number=f"HH{i:010d}",
            district=district,
            tehsil=plan.district,
            union_council=f"UC-{i % 40 + 1}",
            area="rural" if i % 4 else "urban",
        )
        cnic = f"{district.cnic_prefix}3{i:09d}{2 * (i % 5)}"
        born = date(1975 + i % 20, 1 + i % 12, 1 + i % 28)
        person = Person(
            rahdari_number=_rahdari_number(i),
            id_document="cnic",
            national_id=cnic,
            national_id_index=blind_index("cnic", cnic),
            full_name=name,
            name_key=blind_index("name", matching.name_key(name, "")),
            sex="F",
            date_of_birth=born.isoformat(),
            birth_year=born.year,
            mobile=plan.mobile,
            mobile_index=blind_index("phone", plan.mobile) if plan.mobile else "",
            district=district,
            tehsil=plan.district,
            status="deceased" if plan.hold == Payment.Hold.DECEASED else "active",
            household_id=household.pk,
        )
        households.append(household)
        persons.append(person)
        members += [
            HouseholdMember(
                household=household,
                member_no=1,
                relationship="head",
                sex="M",
                birth_year=born.year - 4,
                marital_status="married",
            ),
            HouseholdMember(
                household=household,
                person=person,
                national_id_index=person.national_id_index,
                member_no=2,
                relationship="spouse",
                sex="F",
                birth_year=born.year,
                marital_status="married",
            ),
        ]
        if i % 173 == 7 and plan.hold == Payment.Hold.NO_ACCOUNT:
            continue  # never gave an account
        if plan.channel == "wallet" or (not plan.channel and i % 9 == 4):
            provider = WALLETS[i % 2][0]
            channel, number, display = "wallet", plan.mobile, f"{plan.mobile[:6]} ••• "
        else:
            provider = BANKS[i % 3]
            channel, number, display = "bank", iban_for(i, provider), f"PK {provider} •••• "
        index = account_index(channel, provider, number)
        verified = i % 181 != 9
        accounts.append(
            PaymentAccount(
                person=person,
                channel=channel,
                provider=provider,
                number=number,
                number_index=index,
                display=display + number[-4:],
                holder_name=name if verified else "Sher Khan Afridi",
                status=PaymentAccount.Status.ACTIVE,
                verification="verified" if verified else "name_mismatch",
                verified_at=now,
                activated_at=now,
            )
        )
        if plan.reason == "AC01":
            continue
        books.append(
            ReferenceAccount(
                channel=channel,
                provider=provider,
                number_index=index,
                holder_name="Sher Khan Afridi" if plan.reason == "BE01" or not verified else name,
                state="closed" if plan.reason == "AC04" else "open",
                daily_limit=LOW_LIMIT if plan.reason == "AM02" else 500_000,
            )
        )
    maker, checker = officers
    run = TargetingRun.objects.create(
        program=program,
        version=version,
        status=TargetingRun.Status.APPROVED,
        as_of=now - timedelta(days=3),
        prepared_by=maker,
        decided_by=checker,
        decided_at=now - timedelta(days=2),
        evaluated=count,
        eligible=count,
        benefit_total=sum(p.amount for p in plans),
    )
    beneficiaries = [
        Beneficiary(
            program=program,
            household=household,
            status="suspended" if plan.hold == Payment.Hold.SUSPENDED else "active",
            benefit=plan.amount,
            enrolled_by_run=run,
            last_run=run,
        )
        for household, plan in zip(households, plans, strict=True)
    ]
    with transaction.atomic():
        Household.objects.bulk_create(households, batch_size=2_000)
        Person.objects.bulk_create(persons, batch_size=2_000)
        HouseholdMember.objects.bulk_create(members, batch_size=2_000)
        PaymentAccount.objects.bulk_create(accounts, batch_size=2_000)
        ReferenceAccount.objects.bulk_create(books, batch_size=2_000)
        Beneficiary.objects.bulk_create(beneficiaries, batch_size=2_000)
    return {b.pk: plan for b, plan in zip(beneficiaries, plans, strict=True)}


# --- Processes this test starts, and kills by their own id ---------------------------------


def subprocess_environment(tmp_path: Path) -> dict[str, str]:
    """The environment of a worker that uses this test's database, key ring and folders."""
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RAHDARI_")}
    environment.update(
        RAHDARI_ENV="test",
        RAHDARI_DEBUG="false",
        RAHDARI_LOG_LEVEL="WARNING",
        RAHDARI_DATABASE_URL=(
            f"postgres://{credentials}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        RAHDARI_DB_CONN_MAX_AGE="0",
        RAHDARI_MASTER_KEY=base64.b64encode(django_settings.RAHDARI_MASTER_KEY).decode(),
        RAHDARI_SECRET_KEY=django_settings.SECRET_KEY,
        RAHDARI_VAR_DIR=str(tmp_path / "var"),
        RAHDARI_JOB_STALE_SECONDS=str(STALE_SECONDS),
        RAHDARI_PAYMENT_BATCH_SIZE=str(BATCH_SIZE),
        RAHDARI_PAYMENT_PROVIDER_LATENCY="0",
        RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE="0",
        RAHDARI_REFERENCE_BANK_DELAY_SECONDS="0",
        RAHDARI_REFERENCE_BANK_DIR=str(tmp_path / "bank"),
        RAHDARI_PAYMENT_FILES_DIR=str(tmp_path / "files"),
        RAHDARI_SMS_SENDER="rahdari.core.notifications.RecordingSender",
    )
    return environment


class Child:
    """A process this test started; it is killed by its own pid, never by name."""

    def __init__(self, argv: list[str], environment: dict[str, str], log: Path) -> None:
        self.log = log.open("ab")
        self.popen = subprocess.Popen(
            argv, cwd=ROOT, env=environment, stdout=self.log, stderr=subprocess.STDOUT
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        if self.alive():
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)
        self.log.close()

    def last_line(self) -> str:
        lines = Path(self.log.name).read_text(errors="replace").strip().splitlines()
        return lines[-1][:300] if lines else "no output"

    def stop(self) -> None:
        if self.alive():
            os.kill(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)
        self.log.close()


SEND_SCRIPT = """
import sys
from rahdari.cli import _setup
_setup()
from rahdari.accounts.models import User
from rahdari.payments import services
from rahdari.payments.models import PaymentCycle
cycle = PaymentCycle.objects.get(pk=sys.argv[1])
print("sent", services.cycle_send(cycle=cycle, actor=User.objects.get(pk=sys.argv[2])), flush=True)
"""

# The worker's once-a-minute hook, run in a loop until every instructed payment has an
# outcome.
COLLECT_SCRIPT = """
import sys, time
from rahdari.cli import _setup
_setup()
from rahdari.payments import services
from rahdari.payments.models import Payment
while Payment.objects.filter(cycle=sys.argv[1], status="instructed").exists():
    if not services.reports_collect():
        time.sleep(0.1)
print("collected", flush=True)
"""


@dataclass
class Kill:
    phase: str
    at_s: float  # since the phase began
    progress: int
    planned: str  # "after step N", "start-up" or where a targeted kill caught it


@dataclass
class Phase:
    """One stage, run by a process that is killed at ``kills`` moments and restarted,
    then left to finish. A kill comes at a random moment after the stage has made a
    random part of the progress still due before the next kill (at least one step: a
    batch built, a batch sent, a report applied), so the kills spread over the whole
    stage and land inside its transactions; a start-up kill comes at a random moment
    of the process's start-up instead."""

    name: str
    start: Callable[[], Child]
    progress: Callable[[], int]
    finished: Callable[[], bool]
    total: int  # steps expected
    kills: int
    startup_kills: int = 0
    startup_s: tuple[float, float] = (0.05, 2.0)
    # Called at every poll with whether progress stalled; may record a problem and do
    # what an operator would (start the job again, have the bank deliver again).
    recover: Callable[[bool], None] = lambda stalled: None
    after_kill: Callable[[], None] = lambda: None
    special: dict[int, Callable[[], Kill]] = field(default_factory=dict)
    note: Callable[[str], None] = print
    stall_s: float = 8.0
    deadline_s: float = 240.0
    max_failures: int = 3  # in a row without progress: the stage cannot be done
    done: list[Kill] = field(default_factory=list)
    seconds: float = 0.0
    child: Child | None = None
    step_s: float = 0.3  # how long a step takes, measured as it goes
    gave_up: bool = False


class GaveUp(Exception):
    """The stage's process fails every time it runs: nothing more can be done."""


def _wait(phase: Phase, until: Callable[[], bool], began: float) -> None:
    last, since = phase.progress(), time.monotonic()
    failures, steady = 0, False  # steady: timing steps, not the start-up before them
    while not until():
        now = time.monotonic()
        progress = phase.progress()
        if progress > last:
            if steady:
                phase.step_s = 0.5 * phase.step_s + 0.5 * (now - since) / (progress - last)
            last, since, failures, steady = progress, now, 0, True
        stalled = now - since > phase.stall_s
        phase.recover(stalled)
        if stalled:
            since = now
        assert now - began < phase.deadline_s, (
            f"{phase.name}: not done after {phase.deadline_s:.0f} s "
            f"(progress {progress}, {len(phase.done)} kills); see the logs under tmp_path"
        )
        assert phase.child is not None
        if not phase.child.alive() and not phase.finished():
            phase.child.stop()
            if phase.child.popen.returncode:
                phase.note(f"{phase.name}: the process failed: {phase.child.last_line()}")
                failures += 1
                if failures >= phase.max_failures:
                    raise GaveUp
            phase.child = phase.start()  # it stopped on its own: run it again
        time.sleep(0.01)


def run_phase(phase: Phase, rng: random.Random) -> Phase:
    began = time.monotonic()
    try:
        _run_phase(phase, rng, began)
    except GaveUp:
        phase.gave_up = True
        phase.note(f"{phase.name}: gave up after {phase.max_failures} failures in a row")
    if phase.child is not None:
        phase.child.stop()
    phase.seconds = time.monotonic() - began
    print(f"{phase.name}: {phase.seconds:.1f} s, {len(phase.done)} kills", flush=True)
    return phase


def _run_phase(phase: Phase, rng: random.Random, began: float) -> None:
    startup = set(range(phase.kills))
    if phase.startup_kills < phase.kills:
        startup = set(rng.sample(range(1, phase.kills), phase.startup_kills))
    for number in range(phase.kills):
        if phase.finished():
            return
        if number in phase.special:
            kill = phase.special[number]()
            kill.at_s = time.monotonic() - began
            phase.done.append(kill)
            phase.after_kill()
            continue
        phase.child = phase.start()
        spawned = time.monotonic()
        if number in startup:
            pause = rng.uniform(*phase.startup_s)
            _wait(phase, lambda: time.monotonic() - spawned > pause, began)  # noqa: B023
            planned = "start-up"
        else:
            due = max(phase.total - phase.progress(), 1) / (phase.kills - number + 1)
            goal = phase.progress() + max(1, round(rng.uniform(0.3, 1.2) * due))
            _wait(phase, lambda: phase.finished() or phase.progress() >= goal, began)  # noqa: B023
            time.sleep(rng.uniform(0, min(phase.step_s, 0.2)))  # within the next step
            planned = f"after step {goal}"
        if phase.finished():
            return
        phase.done.append(Kill(phase.name, time.monotonic() - began, phase.progress(), planned))
        phase.child.kill()
        phase.after_kill()
    phase.child = phase.start()
    _wait(phase, phase.finished, began)


def wait_for_stale_heartbeats() -> None:
    """A job whose worker was killed is resumed by the next worker's start-up once its
    heartbeat is older than RAHDARI_JOB_STALE_SECONDS; starting Python and Django takes
    more than a second here, so the next worker may start a little before that."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        cutoff = timezone.now() - timedelta(seconds=STALE_SECONDS - 0.7)
        if not Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__gt=cutoff).exists():
            return
        time.sleep(0.05)


# --- The providers' side: what reached them and what they credited ------------------------


@dataclass(frozen=True)
class ProviderAnswer:
    """One status message a provider produced for one batch it received."""

    batch: str  # our message id (pain.001 MsgId / disburse transaction_id)
    path: Path
    statuses: tuple[tuple[str, str, str], ...]  # (end-to-end id, status, reason)


def provider_answers(bank_dir: Path) -> list[ProviderAnswer]:
    """Every answer the reference bank and wallet operators wrote, collected or not."""
    answers = []
    for folder in ("outbox", "delivered"):
        for path in sorted((bank_dir / folder).glob("*.xml")):
            report = iso20022.parse_pain002(path.read_bytes())
            answers.append(
                ProviderAnswer(
                    report.original_message_id,
                    path,
                    tuple(
                        (t.original_end_to_end_id, t.status, t.reason_code or "")
                        for t in report.transactions
                    ),
                )
            )
    for folder in ("callbacks", "callbacks-delivered"):
        for path in sorted((bank_dir / folder).glob("*.json")):
            body = json.loads(path.read_bytes())
            answers.append(
                ProviderAnswer(
                    body["message"]["transaction_id"],
                    path,
                    tuple(
                        (
                            item["reference_id"],
                            {"SUCC": "ACSC", "RJCT": "RJCT"}.get(item["status"], item["status"]),
                            item.get("status_reason_code", ""),
                        )
                        for item in body["message"]["on_disburse"]
                    ),
                )
            )
    return answers


def file_transfers(files_dir: Path) -> Iterator[tuple[str, str, str, Decimal, int, Decimal]]:
    """(message id, end-to-end id, instruction id, amount, header count, header sum) of
    every credit transfer in the pain.001 files we wrote."""
    ns = {"p": iso20022.PAIN001_NS}
    for path in sorted(files_dir.rglob("*.xml")):
        root = etree.parse(str(path)).getroot()  # our own files  # noqa: S320
        header = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", ns)
        assert header is not None, path
        message_id = header.findtext("p:MsgId", namespaces=ns) or ""
        count = int(header.findtext("p:NbOfTxs", namespaces=ns) or -1)
        total = Decimal(header.findtext("p:CtrlSum", namespaces=ns) or "-1")
        for tx in root.iterfind(".//p:CdtTrfTxInf", ns):
            yield (
                message_id,
                tx.findtext("p:PmtId/p:EndToEndId", namespaces=ns) or "",
                tx.findtext("p:PmtId/p:InstrId", namespaces=ns) or "",
                Decimal(tx.findtext("p:Amt/p:InstdAmt", namespaces=ns) or "0"),
                count,
                total,
            )


# --- The books, and reconciling them ------------------------------------------------------


@dataclass
class Books:
    """Plain numbers from the database, the files, the ledger and the providers — all
    that ``reconcile`` needs, so that it can be shown to catch a doctored copy."""

    expected: dict[str, Entitlement]  # key derived from (cycle, beneficiary, component)
    payments: dict[str, tuple[int, str, str, int]]  # key → amount, status, reason, attempts
    control: tuple[int, int]  # the cycle's payable count and amount
    held: tuple[int, int]
    batches: dict[str, tuple[str, int, int]]  # message id → channel, count, total
    members: list[tuple[str, str, int]]  # (batch, key, amount): files and provider answers
    instructed_events: list[str]
    outcome_events: list[tuple[str, str]]  # (key, paid/failed)
    ledger: list[tuple[str, str, int, str]]  # (kind, key, amount, district)
    district_totals: dict[tuple[str, str], tuple[int, int]]  # (district, kind) → count, amount
    credits: list[str]  # end-to-end ids the providers credited
    deliveries: dict[str, int]  # batch → how many times its provider received it
    paid_sms: list[str]  # keys named in "paid" messages


def reconcile(books: Books) -> list[str]:
    """Every way in which the books say an entitlement was not paid exactly once, or the
    totals do not agree to the rupee. Empty when all is well."""
    problems: list[str] = []

    def check(ok: bool, message: str) -> None:
        if not ok:
            problems.append(message)

    def first(keys: Any, n: int = 3) -> str:
        keys = sorted(keys)
        return ", ".join(keys[:n]) + (f" (and {len(keys) - n} more)" if len(keys) > n else "")

    expected, payments = books.expected, books.payments
    check(
        set(payments) == set(expected),
        f"payment rows and entitlements differ: missing {first(set(expected) - set(payments))},"
        f" unexpected {first(set(payments) - set(expected))}",
    )
    payable = {k for k, e in expected.items() if not e.hold}
    held = {k for k, e in expected.items() if e.hold}
    amount = {k: e.amount for k, e in expected.items()}
    check(
        books.control == (len(payable), sum(amount[k] for k in payable)),
        f"the cycle's control total {books.control} is not the payable entitlements "
        f"{(len(payable), sum(amount[k] for k in payable))}",
    )
    check(
        books.held == (len(held), sum(amount[k] for k in held)),
        f"held {books.held} is not {(len(held), sum(amount[k] for k in held))}",
    )
    wrong_amounts = {k for k, row in payments.items() if k in amount and row[0] != amount[k]}
    check(
        not wrong_amounts,
        f"payments with another amount than the entitlement: {first(wrong_amounts)}",
    )

    # Instructed exactly once per attempt: events, batch membership, ledger entries.
    attempts = {k: row[3] for k, row in payments.items()}
    events = Counter(books.instructed_events)
    in_batches = Counter(key for _batch, key, _amount in books.members)
    ledger_instructed = Counter(
        k for kind, k, _a, _d in books.ledger if kind == "payments.instructed"
    )
    for what, counted in (
        ("instructed events", events),
        ("batch memberships", in_batches),
        ("payments.instructed ledger entries", ledger_instructed),
    ):
        off = {k for k in set(attempts) | set(counted) if counted[k] != attempts.get(k, 0)}
        check(not off, f"{what} differ from the attempts for {len(off)} payments: {first(off)}")
    check(
        all(attempts.get(k) == 1 for k in payable) and not any(attempts.get(k) for k in held),
        "a payable entitlement was not instructed exactly once, or a held one was instructed",
    )

    # Batches: each one's count and total from its own contents; together the control.
    contents: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for batch, key, rupees in books.members:
        contents[batch][0] += 1
        contents[batch][1] += rupees
        check(
            rupees == amount.get(key),
            f"{key} is in batch {batch} for {rupees}, not {amount.get(key)}",
        )
    for batch, (_channel, count, total) in books.batches.items():
        check(
            tuple(contents.get(batch, (0, 0))) == (count, total),
            f"batch {batch} says {count} payments, Rs {total}; it holds "
            f"{tuple(contents.get(batch, (0, 0)))}",
        )
    check(
        set(contents) <= set(books.batches),
        f"payments in unknown batches: {first(set(contents) - set(books.batches))}",
    )
    batch_count = sum(row[1] for row in books.batches.values())
    batch_total = sum(row[2] for row in books.batches.values())
    instructed_total = sum(amount[k] * n for k, n in attempts.items() if k in amount)
    check(
        (batch_count, batch_total) == books.control,
        f"the batches hold {batch_count} payments, Rs {batch_total:,}; the control total is "
        f"{books.control[0]}, Rs {books.control[1]:,}",
    )
    check(
        batch_total == instructed_total,
        f"the batches hold Rs {batch_total:,}; the instructed payments Rs {instructed_total:,}",
    )

    # Outcomes: one paid or failed event each; paid + failed + held = every entitlement.
    outcomes = Counter(k for k, _status in books.outcome_events)
    off = {k for k in payable | set(outcomes) if outcomes[k] != 1}
    check(not off, f"{len(off)} payments have not exactly one paid/failed event: {first(off)}")
    wrong: dict[tuple[str, str, str, str], list[str]] = defaultdict(list)
    for key, (_amount, status, reason, _attempts) in payments.items():
        plan = expected.get(key)
        if plan is not None and (status, reason) != (plan.outcome, plan.hold or plan.reason):
            wrong[(status, reason, plan.outcome, plan.hold or plan.reason)].append(key)
    for (status, reason, outcome, why), keys in sorted(wrong.items()):
        now, want = " ".join(filter(None, (status, reason))), " ".join(filter(None, (outcome, why)))
        problems.append(f"{len(keys)} payments are {now}, not {want}: {first(keys)}")
    by_status: dict[str, int] = defaultdict(int)
    for rupees, status, _reason, _attempts in payments.values():
        by_status[status] += rupees
    check(
        by_status["paid"] + by_status["failed"] + by_status["held"] == sum(amount.values())
        and set(by_status) <= {"paid", "failed", "held"},
        f"paid + failed + held {dict(by_status)} is not the entitlements, Rs {sum(amount.values()):,}",
    )

    # The public ledger: one entry per instruction and outcome; its district totals.
    for kind in ("payments.paid", "payments.failed"):
        status = kind.split(".")[1]
        entries_ = Counter(k for kind_, k, _a, _d in books.ledger if kind_ == kind)
        events_ = Counter(k for k, s in books.outcome_events if s == status)
        check(entries_ == events_, f"{kind} ledger entries differ from the {status} events")
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for kind, key, rupees, district in books.ledger:
        check(
            rupees == amount.get(key), f"the ledger has {key} for {rupees}, not {amount.get(key)}"
        )
        sums[(district, kind)][0] += 1
        sums[(district, kind)][1] += rupees
    expected_sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for key, n in attempts.items():
        if key in expected and n:
            row = expected_sums[(expected[key].district, "payments.instructed")]
            row[0] += n
            row[1] += n * amount[key]
    for key, status in books.outcome_events:
        if key in expected:
            row = expected_sums[(expected[key].district, f"payments.{status}")]
            row[0] += 1
            row[1] += amount[key]
    for where in set(expected_sums) | set(sums) | set(books.district_totals):
        if not where[1].startswith(("payments.instructed", "payments.paid", "payments.failed")):
            continue
        got = tuple(books.district_totals.get(where, (0, 0)))
        check(
            got == tuple(expected_sums[where]) == tuple(sums[where]),
            f"ledger totals for {where}: {got}; entries {tuple(sums[where])}; payments "
            f"{tuple(expected_sums[where])}",
        )

    # The providers: each batch received once; each paid payment credited exactly once.
    twice = {batch for batch, n in books.deliveries.items() if n != 1}
    check(
        not twice,
        f"{len(twice)} batches reached their provider more or less than once: "
        + ", ".join(f"{b} ({books.deliveries[b]}×)" for b in sorted(twice)),
    )
    check(set(books.deliveries) == set(books.batches), "a batch never reached its provider")
    credits = Counter(books.credits)
    paid_keys = {k for k, row in payments.items() if row[1] == "paid"}
    doubly = {k for k, n in credits.items() if n > 1}
    check(
        not doubly,
        f"the providers credited {len(doubly)} payments more than once "
        f"(Rs {sum(amount.get(k, 0) * (credits[k] - 1) for k in doubly):,} paid twice): "
        f"{first(doubly)}",
    )
    check(
        set(credits) == paid_keys,
        f"credited at the providers but not paid here: {first(set(credits) - paid_keys)}; paid "
        f"here but not credited: {first(paid_keys - set(credits))}",
    )
    sms = Counter(books.paid_sms)
    want_sms = {k for k in paid_keys if expected[k].mobile}
    off = {k for k in want_sms | set(sms) if sms[k] != (k in want_sms)}
    check(not off, f"{len(off)} payees did not get exactly one 'paid' SMS: {first(off)}")
    return problems


def books_read(
    cycle: PaymentCycle, plans: dict[Any, Entitlement], files_dir: Path, bank_dir: Path
) -> Books:
    ledger_integrate()
    keys = {
        rules.payment_key(cycle.pk, beneficiary, "benefit"): plan
        for beneficiary, plan in plans.items()
    }
    payments = {
        key: (amount, status, hold or reason, attempts)
        for key, amount, status, hold, reason, attempts in Payment.objects.filter(
            cycle=cycle
        ).values_list("key", "amount", "status", "hold", "reason_code", "attempts")
    }
    batches = {
        m: (channel, count, total)
        for m, channel, count, total in PaymentBatch.objects.filter(cycle=cycle).values_list(
            "message_id", "channel", "count", "total"
        )
    }
    members = []
    for message_id, key, instruction, paid, count, total in file_transfers(files_dir):
        assert paid == int(paid) and total == int(total), (message_id, key)
        members.append((message_id, key, int(paid)))
        assert instruction == rules.instruction_id(key, payments[key][3]), (message_id, key)
        assert (count, int(total)) == batches[message_id][1:], message_id
    answers = provider_answers(bank_dir)
    seen_wallet_batches = set()
    for answer in answers:
        if (
            batches.get(answer.batch, ("",))[0] == "wallet"
            and answer.batch not in seen_wallet_batches
        ):
            # A wallet batch has no file: what the operator answered lists what it got.
            seen_wallet_batches.add(answer.batch)
            members += [(answer.batch, key, payments[key][0]) for key, _s, _r in answer.statuses]
    events = PaymentEvent.objects.filter(payment__cycle=cycle)
    ledger = []
    for body in LogEntry.objects.filter(
        kind__in=["payments.instructed", "payments.paid", "payments.failed"]
    ).values_list("body", flat=True):
        entry = entries.decode_entry(bytes(body))
        if entry["cycle"] == cycle.label:
            ledger.append((entry["kind"], entry["payment"], entry["amount"], entry["district"]))
    paid_sms = []
    for text in OutboundMessage.objects.filter(template="payments.paid").values_list(
        "text", flat=True
    ):
        paid_sms += [k for k in re.findall(r"[A-Z2-7]{32}", text) if k in payments] or [text]
    return Books(
        expected=keys,
        payments=payments,
        control=(cycle.payable_count, cycle.payable_total),
        held=(cycle.held_count, cycle.held_total),
        batches=batches,
        members=members,
        instructed_events=list(
            events.filter(status="instructed").values_list("payment__key", flat=True)
        ),
        outcome_events=list(
            events.filter(status__in=["paid", "failed"]).values_list("payment__key", "status")
        ),
        ledger=ledger,
        district_totals={
            (district, kind): (count, amount)
            for district, kind, count, amount in DistrictTotal.objects.filter(
                program=cycle.program.code, cycle=cycle.label
            ).values_list("district", "kind", "count", "amount")
        },
        credits=[
            key for answer in answers for key, status, _r in answer.statuses if status == "ACSC"
        ],
        deliveries=Counter(answer.batch for answer in answers),
        paid_sms=paid_sms,
    )


def doctored(books: Books) -> Iterator[tuple[str, Books]]:
    """Copies of the books with one exactly-once violation each."""
    key = books.instructed_events[0]
    yield (
        "an instruction event twice",
        dataclasses.replace(books, instructed_events=[*books.instructed_events, key]),
    )
    batch, (channel, count, total) = next(iter(books.batches.items()))
    again = [(f"{batch}-copy", k, a) for b, k, a in books.members if b == batch]
    yield (
        "a batch row twice",
        dataclasses.replace(
            books,
            batches={**books.batches, f"{batch}-copy": (channel, count, total)},
            members=[*books.members, *again],
            deliveries={**books.deliveries, f"{batch}-copy": 1},
        ),
    )
    credited = books.credits[0] if books.credits else key
    yield (
        "a provider's credit twice",
        dataclasses.replace(books, credits=[*books.credits, credited]),
    )
    yield (
        "a batch sent twice",
        dataclasses.replace(
            books, deliveries={**books.deliveries, batch: books.deliveries.get(batch, 0) + 1}
        ),
    )
    yield (
        "one rupee more in a batch",
        dataclasses.replace(books, batches={**books.batches, batch: (channel, count, total + 1)}),
    )
    k, status = next(iter(books.outcome_events), (key, "paid"))
    yield (
        "an outcome event twice",
        dataclasses.replace(books, outcome_events=[*books.outcome_events, (k, status)]),
    )
    yield (
        "a ledger entry twice",
        dataclasses.replace(books, ledger=[*books.ledger, books.ledger[0]]),
    )


def tiny_books() -> Books:
    """Three entitlements: one paid into a bank account, one refused by a wallet
    operator (the account is in another name), one held; everything agrees."""
    paid, failed, held = "A" * 32, "B" * 32, "C" * 32
    return Books(
        expected={
            paid: Entitlement(0, 13_500, "Swat", "", "bank", "HABB", "paid", mobile="+923001"),
            failed: Entitlement(1, 2_500, "Mardan", "", "wallet", "jazzcash", "failed", "BE01"),
            held: Entitlement(2, 6_000, "Swat", "no_account", "", "", "held"),
        },
        payments={
            paid: (13_500, "paid", "", 1),
            failed: (2_500, "failed", "BE01", 1),
            held: (6_000, "held", "no_account", 0),
        },
        control=(2, 16_000),
        held=(1, 6_000),
        batches={"B1": ("bank", 1, 13_500), "B2": ("wallet", 1, 2_500)},
        members=[("B1", paid, 13_500), ("B2", failed, 2_500)],
        instructed_events=[paid, failed],
        outcome_events=[(paid, "paid"), (failed, "failed")],
        ledger=[
            ("payments.instructed", paid, 13_500, "Swat"),
            ("payments.instructed", failed, 2_500, "Mardan"),
            ("payments.paid", paid, 13_500, "Swat"),
            ("payments.failed", failed, 2_500, "Mardan"),
        ],
        district_totals={
            ("Swat", "payments.instructed"): (1, 13_500),
            ("Mardan", "payments.instructed"): (1, 2_500),
            ("Swat", "payments.paid"): (1, 13_500),
            ("Mardan", "payments.failed"): (1, 2_500),
        },
        credits=[paid],
        deliveries={"B1": 1, "B2": 1},
        paid_sms=[paid],
    )


def test_reconcile_accepts_books_that_agree() -> None:
    assert reconcile(tiny_books()) == []


@pytest.mark.parametrize("what", [what for what, _copy in doctored(tiny_books())])
def test_reconcile_finds_each_kind_of_double_payment(what: str) -> None:
    [copy] = [copy for name, copy in doctored(tiny_books()) if name == what]
    assert reconcile(copy), f"reconcile() does not notice {what}"


# --- The test ------------------------------------------------------------------------------


@pytest.fixture
def children() -> Iterator[list[Child]]:
    """Every process the test starts; none outlives it (the database flush needs that)."""
    started: list[Child] = []
    yield started
    for child in started:
        if child.alive():
            child.kill()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_cycle_is_paid_exactly_once_though_its_workers_are_killed(
    officers: tuple[Any, Any],
    approver: Any,
    settings: Any,
    tmp_path: Path,
    children: list[Child],
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (workers in other processes share its queue)")
    rng = random.Random(SEED)
    clock = time.monotonic()
    files_dir, bank_dir, logs = tmp_path / "files", tmp_path / "bank", tmp_path / "logs"
    logs.mkdir()
    settings.RAHDARI_ACTIVE_KEY_TTL_SECONDS = 600  # no key look-up per encrypted value
    settings.RAHDARI_PAYMENT_BATCH_SIZE = BATCH_SIZE
    settings.RAHDARI_REFERENCE_BANK_DIR = bank_dir
    settings.RAHDARI_PAYMENT_FILES_DIR = files_dir
    settings.RAHDARI_REFERENCE_BANK_DELAY_SECONDS = 0
    environment = subprocess_environment(tmp_path)
    officer = officers[0]
    problems: list[str] = []  # what is not exactly-once-and-resumable, reported at the end

    def note(problem: str) -> None:
        if problem not in problems:
            problems.append(problem)

    def spawn(name: str, *argv: str) -> Child:
        child = Child([sys.executable, *argv], environment, logs / f"{name}.log")
        children.append(child)
        return child

    def worker() -> Child:
        wait_for_stale_heartbeats()
        return spawn("worker", "-m", "rahdari.cli", "worker", "--interval", "0.2")

    plans = province_create(count=BENEFICIARIES, officers=officers)
    timings = {"set-up": time.monotonic() - clock}

    # 1. A program officer prepares the cycle; the worker computes it (killed twice).
    cycle = services.cycle_prepare(
        program=Program.objects.get(code="cash-transfer"), label=LABEL, actor=officer
    )
    compute = run_phase(
        Phase(
            name="compute",
            start=worker,
            progress=lambda: Payment.objects.filter(cycle=cycle).count(),
            finished=lambda: PaymentCycle.objects.get(pk=cycle.pk).status == "prepared",
            total=BENEFICIARIES,
            kills=COMPUTE_KILLS,
            startup_kills=COMPUTE_KILLS,
            startup_s=(0.5, 4.0),
            note=note,
        ),
        rng,
    )
    cycle.refresh_from_db()
    cycle = services.cycle_decide(
        cycle=cycle, approve=True, actor=approver, totp=totp_now(approver)
    )

    # 2. The batch job, run by a worker killed at random moments and restarted.
    jobs = [services.batches_build(cycle=cycle, actor=officer)]
    pending = Payment.objects.filter(cycle=cycle, status=Payment.Status.PENDING)
    batches = PaymentBatch.objects.filter(cycle=cycle)
    groups = Counter(pending.values_list("channel", "provider")).values()

    def build_recover(stalled: bool) -> None:
        """A failed job, or one that nothing will run (no task waiting for a worker, no
        recent heartbeat), is started again by the officer: a new job."""
        job = Job.objects.get(pk=jobs[-1].pk)
        if job.status == Job.Status.SUCCEEDED or not (job.status == Job.Status.FAILED or stalled):
            return
        tasks = Counter(
            DBTaskResult.objects.filter(args_kwargs__args__0=str(job.pk)).values_list(
                "status", flat=True
            )
        )
        beat = job.heartbeat_at or job.created_at
        if job.status != Job.Status.FAILED and (
            tasks["READY"] or timezone.now() - beat < timedelta(seconds=5)
        ):
            return  # a worker will take it, or is working on it
        message = job.message.splitlines()[0] if job.message else "no message"
        note(
            "payments.build_batches did not resume after its worker was killed: job "
            f"{job.pk} is {job.status} after {job.attempts} runs (done {job.done} of total "
            f"{job.total}; {message}; its tasks: {dict(tasks)}), so an officer had to start "
            "the batch job again"
        )
        jobs.append(services.batches_build(cycle=cycle, actor=officer))

    def build_finished() -> bool:
        return not pending.exists() and Job.objects.get(pk=jobs[-1].pk).status == "succeeded"

    build = run_phase(
        Phase(
            name="build",
            start=worker,
            progress=batches.count,
            finished=build_finished,
            total=sum(-(-n // BATCH_SIZE) for n in groups),
            kills=BUILD_KILLS,
            startup_kills=BUILD_STARTUP_KILLS,
            recover=build_recover,
            note=note,
        ),
        rng,
    )
    restarts = len(jobs) - 1

    # 3. Sending, killed at random, and once just after the bank took a file but before
    # the batch was marked sent (the database was slow to take the audit entry).
    ready = PaymentBatch.objects.filter(cycle=cycle, status=PaymentBatch.Status.READY)
    sent = PaymentBatch.objects.filter(cycle=cycle).exclude(status=PaymentBatch.Status.READY)

    def sender() -> Child:
        return spawn("send", "-c", SEND_SCRIPT, str(cycle.pk), str(officer.pk))

    def answers_written() -> int:
        return len(list(bank_dir.glob("outbox/*.xml"))) + len(list(bank_dir.glob("callbacks/*")))

    def kill_after_upload() -> Kill:
        """Hold the audit table, so that the sender stops at its first write after the
        upload (batch_send writes its audit entry last); kill it while it waits there."""
        before = answers_written()
        table = AuditEntry._meta.db_table
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN SHARE MODE")
            child = sender()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and child.alive():
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
                    [table],
                )
                if cursor.fetchone()[0]:
                    break
                time.sleep(0.01)
            uploaded = answers_written() > before
            progress = sent.count()
            child.kill()
        where = "just after the provider took a batch" if uploaded else "before any upload"
        return Kill("send", 0.0, progress, f"waiting for the database {where}")

    send = Phase(
        name="send",
        start=sender,
        progress=sent.count,
        finished=lambda: not ready.exists(),
        total=ready.count(),
        kills=SEND_KILLS + 1,
        stall_s=30,
        note=note,
    )
    send.special = {2: kill_after_upload}
    run_phase(send, rng)

    # 4. Collecting the providers' reports, killed at random.
    def requeue_lost_reports() -> None:
        """The operator has the bank and the operators deliver again what was collected
        but never applied (each message is applied once, so this is safe)."""
        applied = set(
            ProviderMessage.objects.filter(batch__cycle=cycle).values_list(
                "batch__message_id", flat=True
            )
        )
        lost = []
        for folder, back in (("delivered", "outbox"), ("callbacks-delivered", "callbacks")):
            for path in sorted((bank_dir / folder).glob("*.*")):
                message_id = path.stem.split("-", 2)[2]
                if message_id not in applied:
                    lost.append(message_id)
                    path.replace(bank_dir / back / path.name)
        if lost:
            note(
                "reports_collect lost provider reports when its process died: "
                f"{len(lost)} reports (e.g. {lost[0]}) had been taken from the bank's or "
                "operator's outbox but never applied, leaving their payments instructed "
                "with no outcome until someone had them delivered again"
            )

    collect = run_phase(
        Phase(
            name="collect",
            start=lambda: spawn("collect", "-c", COLLECT_SCRIPT, str(cycle.pk)),
            progress=lambda: ProviderMessage.objects.filter(batch__cycle=cycle).count(),
            finished=lambda: not Payment.objects.filter(cycle=cycle, status="instructed").exists(),
            total=batches.count(),
            kills=COLLECT_KILLS,
            recover=lambda stalled: requeue_lost_reports() if stalled else None,
            after_kill=requeue_lost_reports,
            stall_s=4,
            note=note,
        ),
        rng,
    )

    # 5. The books.
    clock = time.monotonic()
    cycle.refresh_from_db()
    books = books_read(cycle, plans, files_dir, bank_dir)
    found = reconcile(books)
    for what, copy in doctored(books):  # the checks bite on these numbers too
        assert set(reconcile(copy)) - set(found), f"reconcile() does not notice {what}"
    for batch in PaymentBatch.objects.filter(cycle=cycle, channel="bank"):
        data = (files_dir / LABEL / batch.file_name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == batch.file_sha256, batch.message_id
    open_batches = PaymentBatch.objects.filter(cycle=cycle).exclude(status="closed").count()
    if open_batches:
        note(f"{open_batches} batches are not closed: some of their payments have no outcome")
    approved = {
        district: (count, amount)
        for district, count, amount in DistrictTotal.objects.filter(
            program="cash-transfer", cycle=LABEL, kind="payments.cycle_approved"
        ).values_list("district", "count", "amount")
    }
    planned: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for plan in plans.values():
        if not plan.hold:
            planned[plan.district][0] += 1
            planned[plan.district][1] += plan.amount
    assert approved == {d: tuple(v) for d, v in planned.items()}
    timings["books"] = time.monotonic() - clock
    kills = compute.done + build.done + send.done + collect.done
    summary = {
        "kills": Counter(k.phase for k in kills),
        "seconds": {
            **timings,
            **{p.name: round(p.seconds, 1) for p in (compute, build, send, collect)},
        },
        "build job restarted by hand": restarts,
        "payments": len(books.payments),
        "batches": len(books.batches),
        "control": books.control,
    }
    print(json.dumps(summary, default=str))
    for kill in kills:
        print(
            f"  killed {kill.phase} at {kill.at_s:.1f} s, progress {kill.progress} ({kill.planned})"
        )
    for problem in found + problems:
        print(f"  problem: {problem}")
    assert len(build.done) >= 20
    assert not found + problems, "exactly once is broken:\n- " + "\n- ".join(found + problems)
