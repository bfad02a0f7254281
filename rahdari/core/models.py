"""Shared kernel: base models, districts, the key ring, the audit log, the outbox, jobs."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from rahdari.core.fields import EncryptedTextField


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class PublicModel(TimeStampedModel):
    """Anything that appears in a URL, a QR or an API gets a UUID, never a counter."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)

    class Meta:
        abstract = True


class District(models.Model):
    """An administrative district, e.g. Swat (سوات), Malakand division, CNIC prefix 15."""

    name = models.CharField(max_length=80, unique=True)
    name_ur = models.CharField(max_length=80)
    division = models.CharField(max_length=80)
    merged_area = models.BooleanField(default=False)
    cnic_prefix = models.CharField(max_length=2)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DataKey(models.Model):
    """One AES-256 data key of the key ring, stored wrapped by the master key.

    Example: key "k3", active since 2026-11-22; values sealed with "k1" still
    decrypt until `rahdari keys rotate` has re-encrypted them and retired k1.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        DECRYPT_ONLY = "decrypt_only", _("decrypt only")
        RETIRED = "retired", _("retired")

    key_id = models.CharField(max_length=16, primary_key=True)
    wrapped_key = models.BinaryField()
    status = models.CharField(max_length=16, choices=Status.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        permissions = [("manage_keys", "Can rotate encryption and signing keys")]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="active"),
                name="one_active_data_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.key_id} ({self.status})"


class AuditEntry(models.Model):
    """One append-only line of the audit log, chained to the one before by hash.

    A service inserts the entry inside its own transaction without taking any lock;
    right after the commit (or within a minute, by the worker) ``audit_chain`` gives
    it its place in the chain (``chain_pos``) and its hashes, once. Until then
    ``entry_hash`` is empty, and the database refuses every other change.

    Example: seq 1042, actor officer "a.khan", action "accounts.user_created",
    subject accounts.user/<uuid>, changes {"roles": ["enrolment_officer"]}.
    `changes` never holds plaintext personal data; reads of a person's data are
    entries with action "*.viewed" so the person can see who looked.
    """

    seq = models.BigAutoField(primary_key=True)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=80, db_index=True)
    subject_type = models.CharField(max_length=80, db_index=True)
    subject_id = models.CharField(max_length=64, db_index=True)
    changes = models.JSONField(default=dict)
    chain_pos = models.BigIntegerField(null=True, blank=True, unique=True)
    prev_hash = models.CharField(max_length=64, null=True, blank=True)
    entry_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)

    class Meta:
        ordering = ["-seq"]
        verbose_name_plural = "audit entries"
        permissions = [("view_audit_log", "Can view and verify the audit log")]
        indexes = [models.Index(fields=["subject_type", "subject_id", "-seq"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("audit entries are append-only")


class OutboundMessage(PublicModel):
    """One SMS or e-mail the platform sent or will send, e.g. a login code in Pashto.

    The recipient and the rendered text are encrypted; `recipient_index` finds all
    messages to one number without decrypting.
    """

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        EMAIL = "email", _("E-mail")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENDING = "sending", _("sending")
        RECORDED = "recorded", _("recorded")
        SENT = "sent", _("sent")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")

    channel = models.CharField(max_length=8, choices=Channel.choices)
    recipient = EncryptedTextField()
    recipient_index = models.CharField(max_length=64, db_index=True)
    language = models.CharField(max_length=8)
    template = models.CharField(max_length=80)
    text = EncryptedTextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("view_outbox", "Can view the notification outbox")]

    def __str__(self) -> str:
        return f"{self.channel}:{self.template}:{self.status}"


class InboundMessage(PublicModel):
    """One SMS a person sent to the platform's number, kept once, e.g. "YES" from
    +92 300 ••• 4567 (Jazz gateway message 8f2c…), handled by payments.cash_out_reply.

    The sender and the text are encrypted; ``sender_index`` counts one number's
    messages (flooding) without decrypting. A second delivery of the same gateway
    message id changes nothing.
    """

    class Outcome(models.TextChoices):
        HANDLED = "handled", _("handled")
        NOT_UNDERSTOOD = "not_understood", _("not understood")
        REFUSED = "refused", _("refused (too many messages)")

    gateway = models.CharField(max_length=24)
    gateway_id = models.CharField(max_length=64)
    sender = EncryptedTextField()
    sender_index = models.CharField(max_length=64, db_index=True)
    text = EncryptedTextField()
    received_at = models.DateTimeField()
    handler = models.CharField(max_length=40, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["gateway", "gateway_id"], name="inbound_message_once")
        ]

    def __str__(self) -> str:
        return f"{self.gateway}:{self.gateway_id}:{self.outcome}"


class Job(PublicModel):
    """One long operation (key rotation, bulk issuance, a targeting run) with progress.

    A job works in chunks and stores a checkpoint in the same transaction as each
    chunk's work, so a worker that dies mid-job is resumed from the checkpoint
    and nothing is done twice.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    kind = models.CharField(max_length=80)
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveBigIntegerField(default=0)
    done = models.PositiveBigIntegerField(default=0)
    checkpoint = models.JSONField(default=dict)
    message = models.CharField(max_length=300, blank=True)
    result = models.JSONField(default=dict)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(done__lte=models.F("total")) | models.Q(total=0),
                name="job_done_within_total",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.status}"

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.status == self.Status.SUCCEEDED else 0
        return min(100, int(self.done * 100 / self.total))
