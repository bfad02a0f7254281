"""How fast `rahdari seed` generates the synthetic registry and writes it as CSV.

Run: .venv/bin/python benchmarks/seed.py --households 1000000

Generates N households with seed 42 into a temporary directory (deleted
afterwards) and prints one JSON object: households, persons, seconds, rates,
peak resident memory and the size of the two CSV files.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

from rahdari.core.synthetic import generate_batches, write_csv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--batch-size", type=int, default=50_000)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="rahdari-seed-") as tmp:
        started = time.perf_counter()
        summary = write_csv(
            generate_batches(
                households=args.households, seed=args.seed, batch_size=args.batch_size
            ),
            Path(tmp),
        )
        seconds = time.perf_counter() - started
        csv_bytes = summary.households_path.stat().st_size + summary.persons_path.stat().st_size

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    result = {
        "benchmark": "seed",
        "households": summary.households,
        "persons": summary.persons,
        "seed": args.seed,
        "batch_size": args.batch_size,
        "seconds": round(seconds, 3),
        "households_per_second": round(summary.households / seconds),
        "persons_per_second": round(summary.persons / seconds),
        "mean_household_size": round(summary.mean_household_size, 3),
        "share_below_pmt_proxy_cutoff": round(summary.share_below_cutoff, 4),
        "peak_rss_mb": round(peak_kib / 1024, 1),
        "csv_bytes": csv_bytes,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
