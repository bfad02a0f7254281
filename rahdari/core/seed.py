"""`rahdari seed`: the deterministic synthetic registry, written as documented CSV files.

The identity and registry issues load these files into the database with their
own import commands (`rahdari identity import persons.csv`), so the same path
serves synthetic data and a data set from outside.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from rahdari.core import synthetic
from rahdari.core.errors import ApplicationError


def run_seed(
    *, households: int, seed: int, export_csv: Path | None, console: Console | None = None
) -> dict[str, Any]:
    """Generate `households` households with `seed` and write households.csv and persons.csv."""
    if households <= 0:
        raise ApplicationError("--households must be a positive number.", code="invalid_households")
    out_dir = export_csv or Path(settings.VAR_DIR) / "seed" / f"{households}-{seed}"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ApplicationError(
            f"Cannot write to {out_dir}: {exc.strerror}", code="bad_path"
        ) from exc

    with Progress(
        TextColumn("households"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        disable=console is None,
    ) as progress:
        bar = progress.add_task("seed", total=households)

        def tracked() -> Iterator[synthetic.SyntheticBatch]:
            for batch in synthetic.generate_batches(households=households, seed=seed):
                yield batch
                progress.advance(bar, batch.household_count)

        summary = synthetic.write_csv(tracked(), out_dir)
    return {
        "households": summary.households,
        "persons": summary.persons,
        "seed": seed,
        "mean_household_size": round(summary.mean_household_size, 3),
        "share_below_pmt_proxy_cutoff": round(summary.share_below_cutoff, 4),
        "households_csv": str(summary.households_path),
        "persons_csv": str(summary.persons_path),
        "bytes": summary.bytes_written,
    }
