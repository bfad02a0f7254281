"""Argon2id sized for a 2-core machine: OWASP's minimum (19 MiB, 2 passes, 1 lane).

Django's default parameters cost about half a second a hash here, which caps
staff logins at a few per second; these cost a few tens of milliseconds.
"""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class SizedArgon2PasswordHasher(Argon2PasswordHasher):
    algorithm = "argon2"
    time_cost = 2
    memory_cost = 19 * 1024
    parallelism = 1
