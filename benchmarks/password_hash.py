"""How long one staff password hash costs: Rahdari's sized Argon2id vs Django's default.

Run: .venv/bin/python benchmarks/password_hash.py
Prints one JSON object (median milliseconds per hash, hashes per second).
"""

from __future__ import annotations

import json
import os
import statistics
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rahdari.config.settings")

from argon2 import PasswordHasher  # noqa: E402
from django.contrib.auth.hashers import Argon2PasswordHasher  # noqa: E402

from rahdari.accounts.hashers import SizedArgon2PasswordHasher  # noqa: E402


def _per_hash_ms(time_cost: int, memory_cost: int, parallelism: int, rounds: int) -> float:
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        hasher.hash("correct-horse-battery-staple")
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    sized = SizedArgon2PasswordHasher
    default = Argon2PasswordHasher
    sized_ms = _per_hash_ms(sized.time_cost, sized.memory_cost, sized.parallelism, 20)
    default_ms = _per_hash_ms(default.time_cost, default.memory_cost, default.parallelism, 5)
    print(
        json.dumps(
            {
                "benchmark": "password_hash",
                "rahdari_argon2id": {
                    "time_cost": sized.time_cost,
                    "memory_kib": sized.memory_cost,
                    "parallelism": sized.parallelism,
                    "ms_per_hash": round(sized_ms, 1),
                    "hashes_per_second": round(1000 / sized_ms, 1),
                },
                "django_default_argon2": {
                    "time_cost": default.time_cost,
                    "memory_kib": default.memory_cost,
                    "parallelism": default.parallelism,
                    "ms_per_hash": round(default_ms, 1),
                    "hashes_per_second": round(1000 / default_ms, 1),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
