"""`rahdari <command>`: the platform's command line.

demo, serve, worker, seed, audit verify, keys list|rotate, backup, restore, totp-code,
identity ..., registry import, credential issue|verify|revoke|keys|status-export|issue-district|cards,
ledger sth|proof|verify, payments export, and `manage ...` for any Django management command.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

console = Console(stderr=True)


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rahdari.config.settings")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        console.print(f"[bold red]Rahdari cannot start:[/] {exc}")
        raise SystemExit(2) from exc


def _manage(*args: str) -> None:
    from django.core.management import call_command

    call_command(*args)


def cmd_demo(args: argparse.Namespace) -> int:
    _setup()
    from rahdari import demo

    _manage("migrate", "--no-input", "-v", "0")
    logins = demo.demo_province(citizens=args.citizens, seed=args.seed)
    demo.print_logins(logins, console)
    if args.no_serve:
        return 0
    return _serve(args.port, with_worker=True)


def _serve(port: int, *, with_worker: bool) -> int:
    worker = None
    if with_worker:
        worker = subprocess.Popen([sys.executable, "-m", "rahdari.cli", "worker"])  # noqa: S603
    try:
        _manage("runserver", f"127.0.0.1:{port}", "--noreload")
    finally:
        if worker:
            worker.terminate()
            worker.wait(timeout=10)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    _setup()
    return _serve(args.port, with_worker=not args.no_worker)


def cmd_worker(args: argparse.Namespace) -> int:
    _setup()
    from rahdari.core.jobs import jobs_resume_stale

    resumed = jobs_resume_stale()
    if resumed:
        console.print(f"Resumed {len(resumed)} interrupted job(s).")
    if not args.batch:
        _start_stale_job_watch(interval=60.0)
    worker_args = [
        "db_worker",
        "--queue-name",
        "*",
        "--interval",
        str(args.interval),
        "--no-reload",
    ]
    if args.batch:
        worker_args.append("--batch")
    _manage(*worker_args)
    return 0


def _start_stale_job_watch(*, interval: float) -> None:
    """Every minute: re-enqueue jobs whose worker died (on any machine), run periodic hooks."""
    import threading

    from django.db import close_old_connections

    from rahdari.core.jobs import jobs_resume_stale, run_periodic

    def watch() -> None:
        while not stop.wait(interval):
            close_old_connections()
            try:
                jobs_resume_stale()
            except Exception as exc:  # keep watching; the next round tries again
                console.print(f"[yellow]stale-job check failed: {type(exc).__name__}[/]")
            run_periodic()

    stop = threading.Event()
    threading.Thread(target=watch, name="stale-job-watch", daemon=True).start()


def cmd_audit(args: argparse.Namespace) -> int:
    _setup()
    from rahdari.core.audit import audit_verify

    report = audit_verify()
    print(
        json.dumps(
            {
                "ok": report.ok,
                "checked": report.checked,
                "first_bad_seq": report.first_bad_seq,
                "problem": report.problem,
            }
        )
    )
    return 0 if report.ok else 1


def _run_job_inline(kind: str, params: dict[str, Any]) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from rahdari.core.jobs import job_create, job_run

    job = job_create(kind=kind, params=params, actor=None, enqueue=False)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        bar = progress.add_task(kind, total=None)

        def update(j: Any) -> None:
            progress.update(bar, total=j.total or None, completed=j.done)

        return job_run(job_id=str(job.pk), on_progress=update)


def cmd_keys(args: argparse.Namespace) -> int:
    _setup()
    from rahdari.core.models import DataKey
    from rahdari.core.services import keys_rotate_start

    if args.action == "list":
        rows = [
            {"key_id": k.key_id, "status": k.status, "created_at": k.created_at.isoformat()}
            for k in DataKey.objects.all()
        ]
        print(json.dumps(rows, indent=2))
        return 0
    key_id = keys_rotate_start(actor=None)
    console.print(f"New active key {key_id}; re-encrypting…")
    job = _run_job_inline("core.keys_reencrypt", {})
    print(json.dumps(job.result))
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    _setup()
    from rahdari.core.backup import backup_create

    print(json.dumps(backup_create(out=Path(args.out)), indent=2))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    _setup()
    from rahdari.core.backup import backup_restore

    print(json.dumps(backup_restore(path=Path(args.path), force=args.force), indent=2))
    return 0


def cmd_totp_code(args: argparse.Namespace) -> int:
    """Demo only: print the current authenticator code of a demo staff account."""
    _setup()
    from django.conf import settings

    if not settings.DEBUG:
        console.print("[red]totp-code works only in the demo (DEBUG).[/]")
        return 2
    from rahdari.demo import current_totp

    code = current_totp(args.username)
    if code is None:
        console.print(f"[red]{args.username} has no authenticator app.[/]")
        return 1
    print(code)
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    _setup()
    from rahdari.core.seed import run_seed

    summary = run_seed(
        households=args.households,
        seed=args.seed,
        export_csv=Path(args.export_csv) if args.export_csv else None,
        console=console,
    )
    if not args.no_reference:
        from rahdari.identity.national_id import reference_load_synthetic

        console.print("Loading the same persons into the national ID reference register…")
        summary["reference_records"] = reference_load_synthetic(
            households=args.households, seed=args.seed
        )
    if not args.no_registry:
        console.print("Loading the same households into the social registry…")
        job = _run_job_inline(
            "registry.import_households",
            {"directory": str(Path(summary["households_csv"]).parent.resolve())},
        )
        summary["registry"] = job.result
    print(json.dumps(summary, indent=2))
    return 0


def cmd_registry(args: argparse.Namespace) -> int:
    _setup()
    directory = Path(args.directory)
    if not (directory / "households.csv").is_file():
        raise SystemExit(f"{directory} has no households.csv (write one with `rahdari seed`)")
    job = _run_job_inline("registry.import_households", {"directory": str(directory.resolve())})
    print(json.dumps(job.result))
    return 0


def cmd_identity(args: argparse.Namespace) -> int:
    _setup()
    from rahdari.identity import imports, national_id

    if args.action == "import-reference":
        summary = national_id.reference_import(path=Path(args.path), actor=None)
        print(json.dumps({"created": summary.created, "updated": summary.updated}))
        return 0
    if args.action == "import":
        if not args.path:
            raise SystemExit("rahdari identity import needs a persons.csv path")
        imports.persons_validate(Path(args.path))  # all rows checked before anything is saved
        job = _run_job_inline("identity.import_persons", {"path": str(Path(args.path).resolve())})
        print(json.dumps(job.result))
        return 0
    if args.action == "verify-queued":
        job = _run_job_inline("identity.verify_queued", {})
        print(json.dumps(job.result))
        return 0
    pairs = imports.dedup_report(
        csv_path=Path(args.csv) if args.csv else None, threshold=args.threshold
    )
    if args.json:
        print(json.dumps(pairs, ensure_ascii=False))
    else:
        for pair in pairs:
            print(f"{pair['score']:.3f}  {pair['a']}  {pair['b']}")
    return 0


def _print_verification(result: Any) -> int:
    print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    return 0 if result.valid else 1


def cmd_credential_verify(args: argparse.Namespace) -> int:
    """Offline with --keys (no database, no network); else with this installation's keys."""
    from rahdari.credentials import cwt, offline

    try:
        texts = offline.texts_from_argument(args.qr)
    except cwt.FormatError as exc:
        return _print_verification(cwt.Verification(False, exc.reason, exc.detail))
    if args.keys:
        try:
            verifier = offline.load_verifier(Path(args.keys), [Path(p) for p in args.status])
        except (OSError, ValueError, KeyError, cwt.FormatError) as exc:
            console.print(
                f"[bold red]Cannot load the key set or status list:[/] {escape(str(exc))}"
            )
            return 2
        return _print_verification(verifier.verify(texts[0]))
    _setup()
    from rahdari.credentials.services import credential_verify

    return _print_verification(credential_verify(text=texts[0]))


def cmd_credential(args: argparse.Namespace) -> int:
    if args.action == "verify":
        if not args.qr:
            raise SystemExit("rahdari credential verify needs a QR text or an image path")
        return cmd_credential_verify(args)
    _setup()
    from rahdari.core.errors import NotFound
    from rahdari.core.models import District
    from rahdari.credentials import services
    from rahdari.credentials.models import IssuerKey
    from rahdari.identity.models import Person

    def person() -> Person:
        number = (args.person or "").replace(" ", "").replace("-", "")
        found = Person.objects.select_related("district").filter(rahdari_number=number).first()
        if found is None:
            raise NotFound("no person with that Rahdari number", code="person_not_found")
        return found

    if args.action == "issue":
        credential = services.credential_issue(person=person(), actor=None, reason=args.reason)
        print(credential.qr_card if args.profile == "card" else credential.qr_compact)
        return 0
    if args.action == "revoke":
        current = services.current_credential(person())
        if current is None:
            raise NotFound("this person has no current credential", code="no_credential")
        services.credential_revoke(credential=current, reason=args.reason, actor=None)
        print(json.dumps({"revoked": str(current.pk)}))
        return 0
    if args.action == "keys":
        keys_action = args.qr or "list"
        if keys_action not in ("list", "rotate", "export", "withdraw"):
            raise SystemExit("rahdari credential keys list|rotate|export|withdraw --kid KID")
        if keys_action == "withdraw":
            job = services.issuer_key_withdraw(kid=args.kid or "", actor=None, reason=args.reason)
            console.print(f"Key {args.kid} withdrawn; reissuing what it signed…")
            from rahdari.core.jobs import job_run

            print(json.dumps(job_run(job_id=str(job.pk)).result))
            return 0
        if keys_action == "rotate":
            key = services.issuer_keys_rotate(actor=None, reason=args.reason)
            console.print(f"New signing key {key.kid}; the old key keeps verifying.")
        document = services.keyset_document()
        if keys_action == "export":
            text = json.dumps(document, indent=2)
            if args.out:
                Path(args.out).write_text(text + "\n", encoding="utf-8")
            else:
                print(text)
            return 0
        rows = [
            {
                "kid": k.kid,
                "status": k.status,
                "not_before": k.not_before.isoformat(),
                "signing_until": k.signing_until.isoformat() if k.signing_until else None,
                "verify_until": k.verify_until.isoformat(),
            }
            for k in IssuerKey.objects.all()
        ]
        print(json.dumps(rows, indent=2))
        return 0
    if args.action == "status-export":
        from rahdari.credentials.models import StatusList

        out = Path(args.out or ".")
        out.mkdir(parents=True, exist_ok=True)
        services.status_lists_refresh_if_old()
        written = []
        for status_list in StatusList.objects.all():
            path = out / f"status-{status_list.number}.cwt"
            path.write_bytes(bytes(status_list.token))
            written.append(str(path))
        print(json.dumps({"written": written}))
        return 0
    district = District.objects.filter(name__iexact=args.district or "").first()
    if district is None:
        raise NotFound("no district of that name", code="district_not_found")
    if args.action == "issue-district":
        job = _run_job_inline("credentials.issue_district", {"district": district.pk})
    else:
        job = _run_job_inline(
            "credentials.print_cards", {"district": district.pk, "language": args.language}
        )
    print(json.dumps(job.result))
    return 0


def cmd_ledger(args: argparse.Namespace) -> int:
    if args.action == "verify":
        # Independent by design: reads only the public API of the log at --url, never the
        # local database, so anyone can run it against any Rahdari log.
        from rahdari.ledger.verify import verify_log

        if not args.url:
            console.print("[bold red]Give the log's address:[/] --url https://…")
            return 2
        report = verify_log(args.url)
        print(json.dumps(report.as_json(), indent=2))
        return 0 if report.ok else 1
    _setup()
    from rahdari.ledger import entries, merkle, selectors, services

    if args.action == "sth":
        head = services.ledger_publish() if args.publish else None
        head = head or selectors.latest_tree_head()
        if head is None:
            console.print("The log is empty: no tree head yet.")
            return 1
        print(json.dumps(selectors.head_value(head).as_json(), indent=2))
        return 0
    latest = selectors.latest_tree_head()
    if latest is None:
        console.print("The log is empty: no tree head yet.")
        return 1
    size = args.tree_size or latest.tree_size
    if args.first is not None:
        proof = selectors.consistency_proof(first=args.first, second=size)
        head = selectors.tree_head_at(size)
        old = selectors.tree_head_at(args.first)
        checked = bool(
            head
            and old
            and merkle.verify_consistency(
                args.first, size, bytes(old.root_hash), bytes(head.root_hash), proof
            )
        )
        print(
            json.dumps(
                {
                    "first": args.first,
                    "second": size,
                    "consistency": [entries.b64(h) for h in proof],
                    "checked_against_published_heads": checked,
                },
                indent=2,
            )
        )
        return 0
    if args.leaf_hash:
        index = selectors.entry_index(entries.unb64(args.leaf_hash))
    elif args.index is not None:
        index = args.index
    else:
        console.print("[bold red]Say which entry:[/] --index N or --leaf-hash BASE64")
        return 2
    proof = selectors.inclusion_proof(index=index, tree_size=size)
    body = selectors.entries_range(start=index, end=index + 1)[0][1]
    head = selectors.tree_head_at(size)
    leaf = merkle.leaf_hash(body)
    print(
        json.dumps(
            {
                "leaf_index": index,
                "tree_size": size,
                "entry": body.decode(),
                "leaf_hash": entries.b64(leaf),
                "audit_path": [entries.b64(h) for h in proof],
                "tree_head": selectors.head_value(head).as_json() if head else None,
                "verified": bool(
                    head
                    and merkle.verify_inclusion(leaf, index, size, proof, bytes(head.root_hash))
                ),
            },
            indent=2,
        )
    )
    return 0


def cmd_payments(args: argparse.Namespace) -> int:
    _setup()
    from django.core.exceptions import ValidationError

    from rahdari.payments import services
    from rahdari.payments.models import PaymentCycle

    try:
        cycle = PaymentCycle.objects.select_related("program").get(pk=args.cycle)
    except (PaymentCycle.DoesNotExist, ValidationError):
        console.print(f"[bold red]No payment cycle {escape(args.cycle)}.[/]")
        return 2
    paths = services.cycle_export(cycle=cycle, out=Path(args.out))
    print(json.dumps({"cycle": str(cycle.pk), "files": [str(p) for p in paths]}, indent=2))
    return 0


def cmd_manage(args: argparse.Namespace) -> int:
    _setup()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["rahdari manage", *args.rest])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rahdari", description="Rahdari platform commands")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="prepare the demo province and serve it")
    p.add_argument("--no-serve", action="store_true", help="prepare only (for scripts)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--citizens", type=int, default=40)
    p.add_argument("--seed", type=int, default=2026)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("serve", help="serve on 127.0.0.1 (development server) with a worker")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-worker", action="store_true")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run a background-task worker (resumes interrupted jobs)")
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--batch", action="store_true", help="run what is queued, then exit")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("seed", help="generate a deterministic synthetic registry")
    p.add_argument("--households", type=int, required=True)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--export-csv", metavar="DIR")
    p.add_argument(
        "--no-reference",
        action="store_true",
        help="do not fill the national ID reference register (about 7,000 persons/s)",
    )
    p.add_argument(
        "--no-registry",
        action="store_true",
        help="do not load the households into the social registry",
    )
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser("audit", help="audit log tools")
    p.add_argument("action", choices=["verify"])
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("keys", help="data encryption keys")
    p.add_argument("action", choices=["list", "rotate"])
    p.set_defaults(func=cmd_keys)

    p = sub.add_parser("backup", help="write a consistent backup of the database")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="restore a backup written by `rahdari backup`")
    p.add_argument("path")
    p.add_argument("--force", action="store_true", help="replace a database that has data")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("totp-code", help="demo only: current authenticator code of a demo account")
    p.add_argument("username")
    p.set_defaults(func=cmd_totp_code)

    p = sub.add_parser("identity", help="persons: import, reference register, duplicates")
    p.add_argument("action", choices=["import", "import-reference", "dedup", "verify-queued"])
    p.add_argument("path", nargs="?", help="CSV file for import and import-reference")
    p.add_argument("--csv", help="dedup: a persons.csv file instead of the registry")
    p.add_argument("--json", action="store_true", help="dedup: print the pairs as JSON")
    p.add_argument("--threshold", type=float, default=None, help="dedup: lowest score to report")
    p.set_defaults(func=cmd_identity)

    p = sub.add_parser("registry", help="social registry: import households")
    p.add_argument("action", choices=["import"])
    p.add_argument("directory", help="a folder with households.csv and persons.csv")
    p.set_defaults(func=cmd_registry)

    p = sub.add_parser(
        "credential", help="QR credentials: issue, verify, revoke, keys, bulk issue, cards"
    )
    p.add_argument(
        "action",
        choices=["issue", "verify", "revoke", "keys", "status-export", "issue-district", "cards"],
    )
    p.add_argument(
        "qr",
        nargs="?",
        help="verify: the QR text, or a PNG/JPEG file with the QR; keys: list|rotate|export|withdraw",
    )
    p.add_argument("--person", help="issue, revoke: the person's Rahdari number")
    p.add_argument("--profile", choices=["compact", "card"], default="compact")
    p.add_argument("--kid", help="keys withdraw: the key id (hex) of a compromised key")
    p.add_argument("--reason", default="requested on the command line")
    p.add_argument("--keys", help="verify offline: a saved /.well-known/rahdari-keys.json")
    p.add_argument(
        "--status", action="append", default=[], help="verify offline: a saved /status/<n> file"
    )
    p.add_argument("--out", help="keys export: file; status-export: folder")
    p.add_argument("--district", help="issue-district, cards: the district's name")
    p.add_argument("--language", default="ur", choices=["ur", "ps", "en"])
    p.set_defaults(func=cmd_credential)

    p = sub.add_parser("ledger", help="public ledger: tree head, proofs, independent verification")
    p.add_argument("action", choices=["sth", "proof", "verify"])
    p.add_argument("--url", help="verify: the log's public address, e.g. https://rahdari.kp.gov.pk")
    p.add_argument("--publish", action="store_true", help="sth: sequence and sign what waits")
    p.add_argument("--index", type=int, help="proof: the entry's leaf index")
    p.add_argument("--leaf-hash", help="proof: the entry's leaf hash (base64)")
    p.add_argument("--tree-size", type=int, help="proof: a published size (default: latest)")
    p.add_argument("--first", type=int, help="proof: consistency from this size to --tree-size")
    p.set_defaults(func=cmd_ledger)

    p = sub.add_parser("payments", help="payments: export a cycle's bank instruction files")
    p.add_argument("action", choices=["export"])
    p.add_argument("--cycle", required=True, help="the cycle's id (UUID)")
    p.add_argument("--out", required=True, help="folder for the pain.001 files")
    p.set_defaults(func=cmd_payments)

    p = sub.add_parser("manage", help="run a Django management command")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_manage)
    return parser


def main(argv: list[str] | None = None) -> int:
    from rahdari.core.errors import ApplicationError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ApplicationError as exc:
        console.print(
            f"[bold red]Error ({exc.code}):[/] {escape(str(exc.message))}", soft_wrap=True
        )
        for field, problems in exc.fields.items():
            console.print(f"  {escape(field)}: {escape('; '.join(problems))}", soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
