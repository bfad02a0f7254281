"""Shared test fixtures: factories for users of each role, a clean key ring per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import factory
import pytest
from django.core.cache import cache
from django.test import Client

from rahdari.accounts.models import User
from rahdari.accounts.roles import Role
from rahdari.accounts.services import citizen_register, roles_sync, staff_create
from rahdari.core.keyring import keyring
from rahdari.core.models import District

STAFF_PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def _fresh_keyring() -> Iterator[None]:
    """Each test's database starts empty, so the key ring's process cache must too."""
    keyring().clear()
    yield
    keyring().clear()


@pytest.fixture(autouse=True)
def _audit_guards(request: pytest.FixtureRequest) -> Iterator[None]:
    """Keep the append-only triggers on, except while a transactional test's flush empties
    the tables (the flush runs after this fixture's teardown)."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None and "transactional_db" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("_django_db_helper")
    from django.db import connection

    from rahdari.core.dbguards import (
        install_append_only,
        install_audit_guards,
        remove_append_only,
        remove_audit_guards,
    )
    from rahdari.ledger.models import APPEND_ONLY_TABLES

    install_audit_guards(connection)
    install_append_only(connection, APPEND_ONLY_TABLES)
    yield
    transactional = "transactional_db" in request.fixturenames or (
        marker is not None and marker.kwargs.get("transaction")
    )
    if transactional:
        remove_audit_guards(connection)
        remove_append_only(connection, APPEND_ONLY_TABLES)


@pytest.fixture(autouse=True)
def _fast_settings(settings: Any) -> None:
    settings.RAHDARI_ACTIVE_KEY_TTL_SECONDS = 0
    settings.RAHDARI_SMS_SENDER = "rahdari.core.notifications.RecordingSender"
    settings.RAHDARI_PUBLIC_URL = "http://testserver"
    # Changes reach the per-process caches after their commit, which most tests (run
    # inside one transaction) never reach: tests see every change at once instead;
    # tests/core/test_hotcache.py covers the caches themselves.
    settings.RAHDARI_HOT_CACHE_SECONDS = 0
    settings.RAHDARI_VERIFIER_RECHECK_SECONDS = 0
    settings.RAHDARI_AUDIT_CHAIN_INTERVAL_SECONDS = 0  # chained at every commit
    settings.RAHDARI_LEDGER_INTEGRATE_INTERVAL_SECONDS = 0  # sequenced at every commit
    settings.RAHDARI_LEDGER_STH_INTERVAL_SECONDS = 0
    cache.clear()  # rate-limit counters start at zero in every test


class CitizenData(factory.DictFactory):
    """A valid CNIC (Peshawar prefix, odd last digit = male) and a Jazz mobile number."""

    cnic = factory.Sequence(lambda n: f"17301{n:07d}1")
    phone = factory.Sequence(lambda n: f"+92300{n:07d}")
    full_name = factory.Faker("name")
    language = "en"


def districts_named(names: list[str]) -> list[District]:
    """The districts, loading the reference list first if a transactional test's flush
    emptied it; an unknown name fails loudly instead of giving an officer no district."""
    if not District.objects.exists():
        from rahdari.core.services import districts_load

        districts_load()
    found = list(District.objects.filter(name__in=names))
    missing = set(names) - {d.name for d in found}
    assert not missing, f"unknown districts in a test: {sorted(missing)}"
    return found


@pytest.fixture
def make_staff(db: Any) -> Callable[..., User]:
    counter = {"n": 0}

    def make(role: Role, districts: list[str] | None = None, **extra: Any) -> User:
        roles_sync()
        counter["n"] += 1
        return staff_create(
            username=extra.pop("username", f"{role.value}.{counter['n']}"),
            full_name=extra.pop("full_name", "Test Officer"),
            password=STAFF_PASSWORD,
            roles=[role],
            districts=districts_named(districts or []),
            actor=None,
            **extra,
        )

    return make


@pytest.fixture
def make_citizen(db: Any) -> Callable[..., User]:
    def make(**overrides: Any) -> User:
        data = CitizenData(**overrides)
        return citizen_register(actor=None, **data)

    return make


@pytest.fixture
def staff_client(make_staff: Callable[..., User]) -> Callable[..., Client]:
    """A client logged in as a new staff member of the role (TOTP-verified where required)."""

    def make(role: Role, districts: list[str] | None = None) -> Client:
        user = make_staff(role, districts)
        client = Client()
        client.force_login(user)
        if user.requires_totp:
            from django_otp.plugins.otp_totp.models import TOTPDevice

            device = TOTPDevice.objects.create(user=user, name="t", confirmed=True)
            session = client.session
            session["otp_device_id"] = device.persistent_id
            session.save()
        client.user = user  # type: ignore[attr-defined]
        return client

    return make


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """PostgreSQL-only tests skip (instead of failing) when the suite runs on SQLite."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (make unit-postgres)")
    for item in items:
        if item.get_closest_marker("postgres_only"):
            item.add_marker(skip)
