"""Payment cycle: a million entitlements computed, approved, batched, written as pain.001
files and sequenced into the public ledger, on PostgreSQL (and SQLite).

Run: .venv/bin/python benchmarks/payments.py                         (1,000,000, PostgreSQL)
     .venv/bin/python benchmarks/payments.py --beneficiaries 100000 --db both
     .venv/bin/python benchmarks/payments.py --beneficiaries 10000 --profile

The issue's target ("Payments"): a cycle of 1,000,000 beneficiaries — entitlements,
batches, pain.001 files, ledger entries — in <= 3 minutes on this machine
(PostgreSQL). Prints one JSON object.

What it does, all in a temporary directory deleted afterwards (also on failure):

1. Setup, in a fresh process per database (reported, not the figure): a new database
   (a SQLite file with the project's settings, or a PostgreSQL cluster of its own on a
   free 127.0.0.1 port, fsync off as in ``scripts/with-postgres.sh``), ``migrate``
   (which seeds the programs), two officers and a payment approver with an
   authenticator, then — bulk-inserted, as enrolment, the registry, a targeting run
   and the beneficiaries' account changes would have left them — N households with a
   husband and an enrolled wife (the payee), her active account (bank 70 % over five
   banks, wallet 20 % over three operators, prepaid card 10 % over two issuers, its
   number and holder name encrypted as the model does), an approved run and N
   beneficiaries. Holds as in tests/payments/test_exactly_once.py: about 0.5 %
   suspended, 0.5 % deceased, 0.6 % without an account, 0.6 % with an account in
   another name. On PostgreSQL the rows go in by COPY, then ``VACUUM ANALYZE``; before
   the figure a ``CHECKPOINT`` and ``sync`` let the set-up's writes come to rest.
2. The figure, in another fresh process, with the real services and job code paths:

   - ``compute``: ``cycle_prepare`` + ``job_run`` of its job (``cycle_compute``:
     entitlements, holds, the summary);
   - ``approve``: ``cycle_decide`` with the approver's current TOTP code (and its
     ``payments.cycle_approved`` ledger entry);
   - ``batches``: ``batches_build`` + ``job_run`` (``batches_compute``: batches,
     payments instructed, their events and their ``payments.instructed`` ledger
     entries);
   - ``files``: ``cycle_export`` — every bank batch's pain.001.001.09 file, streamed;
     at N <= 20,000 the first file is validated against the ISO schema with xmlschema
     (not timed);
   - ``ledger``: ``ledger_integrate`` — every entry still waiting sequenced into the
     tree. By default (``--ledger inline``) sequencing runs as in production: after a
     commit that submitted entries, at most once a second per process
     (RAHDARI_LEDGER_INTEGRATE_INTERVAL_SECONDS, 1), so most entries are sequenced
     during ``batches`` and this stage takes what the last commits left. With
     ``--ledger after`` the interval is set very high, no commit sequences on its own,
     and this stage sequences every entry: each stage's own cost, for comparison.

   ``total`` is their sum. Sub-stages come from wrappers around the services' helpers.
   CPU seconds of this process, of PostgreSQL and of the rest of the machine, peak RSS
   and load averages are reported beside the wall times (2 cores, shared).
3. Checks after the figure: one payment per beneficiary, every payable one instructed
   once with one event and one ledger entry, the files' transactions and sums equal to
   the cycle's control total.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from _machine import (
    Postgres,
    free_port,
    machine_cpu,
    own_cpu,
    package_version,
    postgres_bindir,
    production_settings,
    revision,
    stolen_cpu,
    tree_cpu_seconds,
)

PROJECT_DIR = Path(__file__).resolve().parent.parent
TARGET_S = 180.0
TARGET_BENEFICIARIES = 1_000_000
PROGRAM = "cash-transfer"
LABEL = "2026-Q4"
VALIDATE_UP_TO = 20_000
SETUP_CHUNK = 50_000
XSD = PROJECT_DIR.parent / "shared" / "testdata" / "iso20022" / "pain.001.001.09.xsd"

DISTRICTS = ["Peshawar", "Swat", "Mardan", "Bannu", "Abbottabad", "Dera Ismail Khan", "Kohat"]
AMOUNTS = [13_500, 13_500, 2_500, 13_500, 6_000, 13_500, 9_750, 13_500, 4_321, 13_500, 12_001]
GIVEN = ["Gul", "Shazia", "Rukhsana", "Nasreen", "Bushra", "Farzana", "Naheed", "Zarmina"]
FAMILY = ["Bibi Yousafzai", "Noor Afridi", "Begum Khattak", "Akhtar Marwat", "Jan Mohmand"]
BANKS = ["HABB", "MEZN", "UNIL", "KHYB", "NBPA"]
WALLETS = [("jazzcash", "300"), ("easypaisa", "345"), ("upaisa", "333")]
CARDS = ["bok-card", "bop-card"]


# --------------------------------------------------------------------------- helpers


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class CpuWatch:
    """Wall, own CPU, PostgreSQL CPU and the rest of the machine over a stretch of time."""

    def __init__(self, pg_pid: int | None) -> None:
        self.pg_pid = pg_pid
        self.wall = time.perf_counter()
        self.own = own_cpu()
        self.pg = tree_cpu_seconds(pg_pid) if pg_pid else 0.0
        self.busy, self.total = machine_cpu()
        self.stolen = stolen_cpu()
        self.load = _load()

    def result(self) -> dict[str, Any]:
        wall = time.perf_counter() - self.wall
        own = own_cpu() - self.own
        pg = (tree_cpu_seconds(self.pg_pid) - self.pg) if self.pg_pid else 0.0
        busy, total = machine_cpu()
        busy, total = busy - self.busy, total - self.total
        other = max(busy - own - pg, 0.0)
        return {
            "wall_s": round(wall, 2),
            "this_process_cpu_s": round(own, 2),
            "postgresql_cpu_s": round(pg, 2),
            "other_processes_cpu_s": round(other, 2),
            # of which taken by the hypervisor for other machines on the host
            "stolen_by_host_s": round(stolen_cpu() - self.stolen, 2),
            "machine_utilisation": round(busy / total, 3) if total else None,
            "loadavg_before": self.load,
            "loadavg_after": _load(),
            # Over 90 % of the cores busy and others had more than a third of a core:
            # the figure waited for CPU and should be taken again.
            "disturbed": bool(total and busy / total > 0.9 and wall > 0 and other / wall > 0.33),
        }


class Stages:
    """Seconds per sub-stage, summed over calls, from wrappers around the helpers."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
                self.calls[name] = self.calls.get(name, 0) + 1

        return timed

    def take(self) -> dict[str, Any]:
        out = {name: round(s, 2) for name, s in self.seconds.items()}
        out["calls"] = dict(self.calls)
        self.seconds, self.calls = {}, {}
        return out


def _django() -> None:
    import django

    django.setup()


def _write_out(path: str, data: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(data))


# --------------------------------------------------------------------------- setup


def _rahdari_number(i: int) -> str:
    from stdnum import verhoeff

    body = f"7{i:010d}"
    return body + str(verhoeff.calc_check_digit(body))


def _account_of(i: int) -> tuple[str, str]:
    """Channel and provider of beneficiary i's account: 7 in 10 banks, 2 wallets, 1 card."""
    kind = i % 10
    if kind < 7:
        return "bank", BANKS[i % len(BANKS)]
    if kind < 9:
        return "wallet", WALLETS[i % len(WALLETS)][0]
    return "card", CARDS[i % len(CARDS)]


def _hold_of(i: int) -> str:
    if i % 199 == 3:
        return "suspended"
    if i % 211 == 5:
        return "deceased"
    if i % 173 == 7:
        return "no_account"  # never gave one
    if i % 181 == 9:
        return "name_mismatch"  # an account in another name
    return ""


def _copy_rows(model: Any, objects: list[Any]) -> None:
    """Rows as the model would save them (encrypted fields sealed, defaults, auto
    timestamps): COPY on PostgreSQL, bulk_create on SQLite."""
    from django.db import connection

    if connection.vendor != "postgresql":
        model.objects.bulk_create(objects, batch_size=2_000)
        return
    # Serial ids (AutoField) come from the table's sequence.
    fields = [
        f
        for f in model._meta.concrete_fields
        if not (f.primary_key and f.get_internal_type() in ("AutoField", "BigAutoField"))
    ]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    # Values first: sealing a value may read the key ring's table, which cannot happen
    # on a connection that is in the middle of a COPY (it would wait for itself).
    # Encrypted columns are sealed a column at a time (the same tokens, one cipher).
    from rahdari.core.fields import EncryptedTextField
    from rahdari.core.keyring import keyring

    columns_values: list[list[Any]] = []
    for f in fields:
        if isinstance(f, EncryptedTextField):
            column = [getattr(obj, f.attname) for obj in objects]
            filled = [i for i, value in enumerate(column) if value not in (None, "")]
            sealed = keyring().encrypt_many([str(column[i]) for i in filled], f.context())
            for i, token in zip(filled, sealed, strict=True):
                column[i] = token
        else:
            column = [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for obj in objects]
        columns_values.append(column)
    rows = list(zip(*columns_values, strict=True))
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _province(n: int, run: Any, districts: dict[str, Any], iban: Callable[..., str]) -> None:
    from django.db import transaction
    from django.utils import timezone

    from rahdari.core.keyring import blind_index
    from rahdari.identity import matching
    from rahdari.identity.models import Person
    from rahdari.payments.models import PaymentAccount
    from rahdari.payments.providers import account_index
    from rahdari.programs.models import Beneficiary
    from rahdari.registry.models import Household, HouseholdMember

    now = timezone.now()
    for start in range(0, n, SETUP_CHUNK):
        households, persons, members, accounts, beneficiaries = [], [], [], [], []
        for i in range(start, min(start + SETUP_CHUNK, n)):
            district_name = DISTRICTS[i % len(DISTRICTS)]
            district = districts[district_name]
            hold = _hold_of(i)
            channel, provider = _account_of(i)
            name = f"{GIVEN[i % len(GIVEN)]} {FAMILY[i % len(FAMILY)]}"
            household = Household(
                number=f"HH{i:010d}",
                district=district,
                tehsil=district_name,
                union_council=f"UC-{i % 40 + 1}",
                area="rural" if i % 4 else "urban",
            )
            cnic = f"{district.cnic_prefix}3{i:09d}{2 * (i % 5)}"
            born = date(1975 + i % 20, 1 + i % 12, 1 + i % 28)
            mobile = f"+92{WALLETS[i % 3][1]}{i % 10_000_000:07d}"
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
                mobile=mobile,
                mobile_index=blind_index("phone", mobile),
                district=district,
                tehsil=district_name,
                status="deceased" if hold == "deceased" else "active",
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
            if hold != "no_account":
                if channel == "bank":
                    number = iban(i, provider)
                    display = f"{number[:4]} {provider} •••• {number[-4:]}"
                elif channel == "wallet":
                    number, display = mobile, f"{mobile[:6]} ••• {mobile[-4:]}"
                else:
                    number = f"tok_{i:016d}_{provider.replace('-', '')}"
                    display = f"{provider} •••• {number[-4:]}"
                verified = hold != "name_mismatch"
                accounts.append(
                    PaymentAccount(
                        person=person,
                        channel=channel,
                        provider=provider,
                        number=number,
                        number_index=account_index(channel, provider, number),
                        display=display,
                        holder_name=name if verified else "Sher Khan Afridi",
                        status=PaymentAccount.Status.ACTIVE,
                        verification="verified" if verified else "name_mismatch",
                        verified_at=now,
                        activated_at=now,
                        card_status="active" if channel == "card" else "",
                    )
                )
            beneficiaries.append(
                Beneficiary(
                    program_id=run.program_id,
                    household=household,
                    status="suspended" if hold == "suspended" else "active",
                    benefit=AMOUNTS[i % len(AMOUNTS)],
                    enrolled_by_run=run,
                    last_run=run,
                )
            )
        with transaction.atomic():
            _copy_rows(Household, households)
            _copy_rows(Person, persons)
            _copy_rows(HouseholdMember, members)
            _copy_rows(PaymentAccount, accounts)
            _copy_rows(Beneficiary, beneficiaries)
        print(f"[payments] setup {min(start + SETUP_CHUNK, n):,} / {n:,}", file=sys.stderr)


def child_setup(args: argparse.Namespace) -> None:
    _django()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from schwifty import IBAN

    from rahdari.accounts.roles import Role
    from rahdari.accounts.services import roles_sync, staff_create
    from rahdari.core.models import District
    from rahdari.programs.models import Program, ProgramVersion, TargetingRun

    out: dict[str, Any] = {}
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    out["migrate_s"] = round(time.perf_counter() - started, 2)
    if not District.objects.exists():
        from rahdari.core.services import districts_load

        districts_load()
    roles_sync()
    staff = {}
    for name, role in (
        ("officer.prepares", Role.PROGRAM_OFFICER),
        ("officer.runs", Role.PROGRAM_OFFICER),
        ("approver", Role.PAYMENT_APPROVER),
    ):
        staff[name] = staff_create(
            username=name,
            full_name=name.title(),
            password="Bench-only-password-1",  # noqa: S106 — a throw-away database
            roles=[role],
            districts=list(District.objects.filter(name__in=DISTRICTS)),
            actor=None,
        )
    TOTPDevice.objects.create(user=staff["approver"], name="phone", confirmed=True)
    program = Program.objects.get(code=PROGRAM)
    version = ProgramVersion.objects.get(program=program, status=ProgramVersion.Status.APPROVED)
    now = timezone.now()
    n = args.beneficiaries
    run = TargetingRun.objects.create(
        program=program,
        version=version,
        status=TargetingRun.Status.APPROVED,
        as_of=now - timedelta(days=3),
        prepared_by=staff["officer.prepares"],
        decided_by=staff["officer.runs"],
        decided_at=now - timedelta(days=2),
        evaluated=n,
        eligible=n,
        benefit_total=sum(AMOUNTS[i % len(AMOUNTS)] for i in range(n)),
    )
    districts = {d.name: d for d in District.objects.filter(name__in=DISTRICTS)}
    ibans: dict[tuple[int, str], str] = {}

    def iban(i: int, bank: str) -> str:
        found = ibans.get((i, bank))
        if found is None:
            found = str(IBAN.generate("PK", bank_code=bank, account_code=f"{i:016d}").compact)
        return found

    started = time.perf_counter()
    _province(n, run, districts, iban)
    out["province_s"] = round(time.perf_counter() - started, 1)
    if connection.vendor == "postgresql":
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        out["vacuum_analyze_s"] = round(time.perf_counter() - started, 1)
    out["peak_rss_mb"] = _peak_rss_mb()
    _write_out(args.out, out)


# --------------------------------------------------------------------------- the figure


def _totp_now(user: Any) -> str:
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def _database_bytes() -> int:
    from django.db import connection

    if connection.vendor == "sqlite":
        name = Path(connection.settings_dict["NAME"])
        return sum(p.stat().st_size for p in name.parent.glob(name.name + "*"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        return int(cursor.fetchone()[0])


def child_run(args: argparse.Namespace) -> None:
    _django()
    from django.db import connection, connections
    from django.db.models import Count, Sum

    from rahdari.accounts.models import User
    from rahdari.core.jobs import job_run
    from rahdari.core.models import Job
    from rahdari.ledger import services as ledger
    from rahdari.ledger.models import LogEntry, PendingEntry
    from rahdari.payments import services
    from rahdari.payments.models import Payment, PaymentBatch, PaymentCycle, PaymentEvent
    from rahdari.programs.models import Program
    from rahdari.registry import selectors as registry

    stages = Stages()
    services._compute_chunk = stages.wrap("compute_chunks", services._compute_chunk)
    services._cycle_summary = stages.wrap("summary", services._cycle_summary)
    registry.household_payees = stages.wrap("of_which_payees", registry.household_payees)
    services._requeue_failed = stages.wrap("requeue_failed", services._requeue_failed)
    services._instruct = stages.wrap("instruct_batches", services._instruct)
    services.ledger_submit_many = stages.wrap("of_which_ledger_submit", services.ledger_submit_many)
    services.batch_file_write = stages.wrap("batch_file_write", services.batch_file_write)
    database = connections["default"]
    database.commit = stages.wrap("commits", database.commit)  # type: ignore[method-assign]

    pg_pid = int(os.environ["BENCH_PG_PID"]) if os.environ.get("BENCH_PG_PID") else None
    program = Program.objects.get(code=PROGRAM)
    preparer = User.objects.get(username="officer.prepares")
    approver = User.objects.get(username="approver")
    connection.ensure_connection()
    files_dir = Path(args.files)
    profiler = cProfile.Profile() if args.profile else None
    n = args.beneficiaries

    out: dict[str, Any] = {"stages": {}}
    gc.collect()
    # Time in Python's cyclic garbage collector, by generation (all threads).
    collecting: dict[str, Any] = {"s": [0.0, 0.0, 0.0], "n": [0, 0, 0], "started": 0.0}

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collecting["started"] = time.perf_counter()
        else:
            collecting["s"][info["generation"]] += time.perf_counter() - collecting["started"]
            collecting["n"][info["generation"]] += 1

    gc.callbacks.append(on_gc)
    total = CpuWatch(pg_pid)

    def stage(name: str, work: Callable[[], Any]) -> Any:
        stages.take()
        watch = CpuWatch(pg_pid)
        if profiler:
            profiler.enable()
        value = work()
        if profiler:
            profiler.disable()
        cpu = watch.result()
        out["stages"][name] = {"s": cpu["wall_s"], "parts_s": stages.take(), "cpu": cpu}
        print(f"[payments] {name}: {cpu['wall_s']} s", file=sys.stderr)
        return value

    def compute() -> Any:
        cycle = services.cycle_prepare(program=program, label=LABEL, actor=preparer)
        job = job_run(job_id=str(cycle.job_id))
        if job.status != Job.Status.SUCCEEDED:
            raise RuntimeError(f"cycle job ended {job.status}: {job.message}")
        return PaymentCycle.objects.get(pk=cycle.pk)

    cycle = stage("compute", compute)
    cycle = stage(
        "approve",
        lambda: services.cycle_decide(
            cycle=cycle, approve=True, actor=approver, totp=_totp_now(approver)
        ),
    )

    def batches() -> None:
        job = services.batches_build(cycle=cycle, actor=preparer)
        job = job_run(job_id=str(job.pk))
        if job.status != Job.Status.SUCCEEDED:
            raise RuntimeError(f"batch job ended {job.status}: {job.message}")

    stage("batches", batches)
    paths = stage(
        "files",
        lambda: services.cycle_export(
            cycle=PaymentCycle.objects.select_related("program").get(pk=cycle.pk), out=files_dir
        ),
    )
    log_before = LogEntry.objects.count()
    pending_before = PendingEntry.objects.count()
    stage("ledger", lambda: ledger.ledger_integrate())
    whole = total.result()
    gc.callbacks.remove(on_gc)
    out["gc"] = {
        "s_by_generation": [round(x, 2) for x in collecting["s"]],
        "collections": collecting["n"],
        "tracked_objects": len(gc.get_objects()),
    }
    out["total_s"] = round(sum(s["s"] for s in out["stages"].values()), 2)
    out["total_cpu"] = whole
    out["peak_rss_mb"] = _peak_rss_mb()

    # Checks (not timed).
    cycle.refresh_from_db()
    payments = Payment.objects.filter(cycle=cycle)
    by_status = dict(payments.values_list("status").annotate(n=Count("id")).order_by())
    bank_batches = PaymentBatch.objects.filter(cycle=cycle, channel="bank")
    files_total = bank_batches.aggregate(count=Sum("count"), total=Sum("total"))
    all_batches = PaymentBatch.objects.filter(cycle=cycle).aggregate(
        count=Sum("count"), total=Sum("total"), n=Count("id")
    )
    events = PaymentEvent.objects.filter(payment__cycle=cycle, status="instructed").count()
    checks = {
        "payments": payments.count(),
        "by_status": by_status,
        "payable": cycle.payable_count,
        "held": cycle.held_count,
        "holds": {k: v["count"] for k, v in cycle.summary.get("holds", {}).items()},
        "batches": all_batches["n"],
        "bank_batches": bank_batches.count(),
        "instructed_in_batches": all_batches["count"],
        "instructed_events": events,
        "ledger_sequenced_before_the_ledger_stage": log_before,
        "ledger_sequenced_in_the_ledger_stage": pending_before,
        "ledger_still_waiting": PendingEntry.objects.count(),
        "log_size": LogEntry.objects.count(),
        "files": len(paths),
        "file_bytes": sum(p.stat().st_size for p in paths),
        "file_transactions": files_total["count"],
    }
    problems = []
    if checks["payments"] != n:
        problems.append(f"{checks['payments']} payments for {n} beneficiaries")
    if by_status.get("instructed", 0) != cycle.payable_count:
        problems.append("instructed != payable")
    if all_batches["total"] != cycle.payable_total:
        problems.append("batch totals != control total")
    if events != cycle.payable_count:
        problems.append("events != payable")
    if checks["log_size"] != cycle.payable_count + 1 or checks["ledger_still_waiting"]:
        problems.append("ledger entries != payable + 1")
    checks["problems"] = problems
    if paths and n <= VALIDATE_UP_TO:
        import xmlschema

        started = time.perf_counter()
        schema = xmlschema.XMLSchema(str(XSD))
        schema.validate(str(paths[0]))
        checks["xsd_valid"] = paths[0].name
        checks["xsd_s"] = round(time.perf_counter() - started, 2)
    out["checks"] = checks
    out["database_bytes"] = _database_bytes()
    if profiler:
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats(45)
        buffer.write("\n--- by own time ---\n")
        pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(35)
        Path(args.out).with_suffix(".profile.txt").write_text(buffer.getvalue())
        out["profile"] = str(Path(args.out).with_suffix(".profile.txt"))
    _write_out(args.out, out)


CHILDREN = {"setup": child_setup, "run": child_run}


# --------------------------------------------------------------------------- parent


def _django_env(var_dir: Path, database_url: str, ledger: str) -> dict[str, str]:
    interval = {"inline": "1", "after": "1000000000"}[ledger]
    return {
        "RAHDARI_ENV": "demo",
        "RAHDARI_DEBUG": "0",  # as in production: no query log
        "RAHDARI_VAR_DIR": str(var_dir),  # secret key and master key made here
        "RAHDARI_DATABASE_URL": database_url,
        "RAHDARI_LOG_LEVEL": "WARNING",
        "RAHDARI_LEDGER_INTEGRATE_INTERVAL_SECONDS": interval,
        "DJANGO_SETTINGS_MODULE": "rahdari.config.settings",
    }


def _child(
    kind: str, args: argparse.Namespace, env: dict[str, str], out: Path, extra: list[str]
) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        kind,
        "--out",
        str(out),
        "--beneficiaries",
        str(args.beneficiaries),
        *extra,
    ]
    started = time.perf_counter()
    subprocess.run(command, cwd=PROJECT_DIR, env=os.environ | env, check=True)
    data = json.loads(out.read_text())
    data["process_s"] = round(time.perf_counter() - started, 1)
    return data


def _backend(name: str, args: argparse.Namespace, tmp: Path, versions: dict[str, str]) -> Any:
    root = tmp / name
    root.mkdir()
    pg: Postgres | None = None
    # --setup-dir (PostgreSQL): the cluster, its keys and a copy of the set-up database
    # are kept there; a later run with the same directory starts from that copy.
    kept = Path(args.setup_dir).resolve() if args.setup_dir and name == "postgres" else None
    reuse = kept is not None and (kept / "setup.json").exists()
    try:
        if name == "postgres":
            settings = production_settings() if args.pg_settings == "production" else {}
            settings |= dict(item.split("=", 1) for item in args.pg_set)
            if args.statements:
                settings["shared_preload_libraries"] = "pg_stat_statements"
                settings["pg_stat_statements.track"] = "all"  # inside functions too (FK checks)
            home = kept if kept is not None else root
            if kept is not None:
                kept.mkdir(parents=True, exist_ok=True)
                kept.chmod(0o755)
            pg = Postgres(
                home / "pg",
                free_port(),
                postgres_bindir(),
                False,
                max_connections=50,
                settings=settings,
            )
            pg.launch() if reuse else pg.start()
            versions["postgresql"] = pg.version() + " (fsync off, synchronous_commit off)"
            versions["postgresql_settings"] = (
                ", ".join(f"{k}={v}" for k, v in settings.items())
                or "initdb's defaults (shared_buffers 128MB, max_wal_size 1GB)"
            )
            env = _django_env(home / "var", pg.url, args.ledger) | {"BENCH_PG_PID": str(pg.pid())}
        else:
            env = _django_env(root / "var", f"sqlite:///{root / 'rahdari.sqlite3'}", args.ledger)
        if reuse and pg is not None and kept is not None:
            print(f"[payments] {name}: the set-up copy in {kept}…", file=sys.stderr)
            _admin(pg, "DROP DATABASE IF EXISTS rahdari WITH (FORCE)")
            _admin(pg, "CREATE DATABASE rahdari TEMPLATE rahdari_setup")
            # Migrations added since the set-up (not timed), e.g. an index changed.
            subprocess.run(
                [sys.executable, "-m", "rahdari.cli", "manage", "migrate", "-v", "0"],
                cwd=PROJECT_DIR,
                env=os.environ | env,
                check=True,
            )
            setup = json.loads((kept / "setup.json").read_text()) | {"reused_from": str(kept)}
        else:
            print(
                f"[payments] {name}: setup, {args.beneficiaries:,} beneficiaries…",
                file=sys.stderr,
            )
            setup = _child("setup", args, env, root / "setup.json", [])
            if pg is not None and kept is not None:
                _admin(pg, "CREATE DATABASE rahdari_setup TEMPLATE rahdari")
                (kept / "setup.json").write_text(json.dumps(setup))
        # The set-up (or its copy) comes to rest before the figure: a checkpoint writing
        # out its gigabytes during the stages is a cost of loading the registry, not of
        # paying it (a fresh run without this step took 196 s against 148–157 s from
        # copies of the same code, PostgreSQL's CPU in the batches 131 s against 79–82).
        started = time.perf_counter()
        if pg is not None:
            _admin(pg, "CHECKPOINT")
        os.sync()
        setup["checkpoint_and_sync_s"] = round(time.perf_counter() - started, 1)
        extra = ["--files", str(root / "files")] + (["--profile"] if args.profile else [])
        if args.statements and pg is not None:
            _admin(pg, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements", "rahdari")
            _admin(pg, "SELECT pg_stat_statements_reset()", "rahdari")
        run = _child("run", args, env, root / "run.json", extra)
        if args.statements and pg is not None:
            run["statements"] = _statements(pg, args.statements)
        if run.get("profile"):
            kept = Path(args.profile_out or ".") / f"payments-{name}.profile.txt"
            shutil.copy(run["profile"], kept)
            run["profile"] = str(kept)
        n = args.beneficiaries
        run["rows_per_s"] = {
            stage: round(n / data["s"]) if data["s"] else None
            for stage, data in run["stages"].items()
        }
        run["rows_per_s"]["total"] = round(n / run["total_s"])
        run["target_met"] = (
            run["total_s"] <= TARGET_S and not run["checks"]["problems"]
            if n >= TARGET_BENEFICIARIES
            else None
        )
        run["linear_estimate_for_1m_s"] = round(run["total_s"] * TARGET_BENEFICIARIES / n, 1)
        return {"setup": setup, **run}
    finally:
        if pg is not None:
            pg.stop()


def _admin(pg: Postgres, sql: str, database: str = "postgres") -> None:
    import psycopg

    with psycopg.connect(
        f"postgresql://rahdari@127.0.0.1:{pg.port}/{database}", autocommit=True
    ) as conn:
        conn.execute(sql)


def _statements(pg: Postgres, limit: int) -> list[dict[str, Any]]:
    """The statements PostgreSQL spent most time executing during the figure
    (pg_stat_statements: execution time, not planning; nested ones — foreign-key checks —
    counted on their own as well as inside the statement that fired them)."""
    import psycopg

    with psycopg.connect(
        f"postgresql://rahdari@127.0.0.1:{pg.port}/rahdari", autocommit=True
    ) as conn:
        rows = conn.execute(
            "SELECT round((total_exec_time / 1000)::numeric, 2), calls, rows, "
            "regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements "
            "ORDER BY total_exec_time DESC LIMIT %s",
            [limit],
        ).fetchall()
    return [
        {"s": float(s), "calls": calls, "rows": n, "query": query[:200]}
        for s, calls, n, query in rows
    ]


def _revision() -> dict[str, Any]:
    return revision(
        ["rahdari/payments", "rahdari/ledger", "rahdari/core", "benchmarks/payments.py"]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beneficiaries", type=int, default=TARGET_BENEFICIARIES)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="postgres")
    parser.add_argument("--profile", action="store_true", help="cProfile the figure (slower)")
    parser.add_argument("--profile-out", help="folder for the profile text (.)")
    parser.add_argument(
        "--pg-settings",
        choices=("production", "initdb"),
        default="production",
        help="the server's memory settings: docs/operations.md's (sized from this "
        "machine's memory) or initdb's minimal defaults",
    )
    parser.add_argument(
        "--pg-set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="one more server setting (repeatable), e.g. random_page_cost=1.1",
    )
    parser.add_argument(
        "--setup-dir",
        help="keep the PostgreSQL set-up here and start later runs from a copy of it "
        "(for trying changes; the figure is taken on a fresh set-up)",
    )
    parser.add_argument(
        "--ledger",
        choices=("inline", "after"),
        default="inline",
        help="sequence the ledger as production does, after commits during the stages "
        "(inline), or only in the last stage (after: each stage's own cost)",
    )
    parser.add_argument(
        "--statements",
        type=int,
        default=0,
        metavar="N",
        help="load pg_stat_statements and report the N statements PostgreSQL spent most "
        "time on during the figure (adds some overhead)",
    )
    # Internal: the child processes.
    parser.add_argument("--child", choices=tuple(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--files", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        CHILDREN[args.child](args)
        return 0

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    backends = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    result: dict[str, Any] = {
        "benchmark": "payments",
        "target": f"cycle of {TARGET_BENEFICIARIES:,} beneficiaries <= {TARGET_S:g} s (PostgreSQL)",
        "beneficiaries": args.beneficiaries,
        "ledger_sequencing": args.ledger,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "loadavg_start": _load(),
        "revision_start": _revision(),
    }
    versions: dict[str, str] = {}
    result["machine"] = {
        "cpus": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "versions": versions,
    }
    versions.update(
        {
            name: package_version(name) or "?"
            for name in ("django", "psycopg", "lxml", "cryptography", "schwifty")
        }
    )
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="rahdari-bench-payments-"))
    tmp.chmod(0o755)  # the postgres user must reach its data directory inside
    try:
        for name in backends:
            result[name] = _backend(name, args, tmp, versions)
    finally:
        with contextlib.suppress(Exception):
            shutil.rmtree(tmp, ignore_errors=True)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    result["loadavg_end"] = _load()
    result["revision_end"] = _revision()
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
