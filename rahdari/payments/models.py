"""Payment accounts, cycles, payments and batches.

A payment row is one entitlement of one beneficiary in one cycle and everything that
happens to paying it: held, waiting, instructed in a batch, paid, failed (and retried
in a later batch), returned, reversed. Its ``key`` — derived from the cycle, the
beneficiary and the component — is unique, so no code path can pay an entitlement
twice; it travels to the bank as the ISO 20022 EndToEndId.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from rahdari.core.fields import EncryptedTextField
from rahdari.core.models import PublicModel, TimeStampedModel


class Channel(models.TextChoices):
    BANK = "bank", _("bank account")
    WALLET = "wallet", _("mobile wallet")
    CARD = "card", _("prepaid card")


class PaymentAccount(PublicModel):
    """Where one person's payments go, e.g. Gul Bibi's account PK36 HABB ···· 1234 at HBL,
    in her own name (verified by the bank), active since 2026-10-02.

    The number (IBAN, E.164 mobile number, or the card provider's token — never a card
    number) is encrypted; ``number_index`` (a blind index) finds accounts that several
    beneficiaries share. A change is a new row that becomes active only after the
    beneficiary confirms a code sent to her phone; the old row is kept as replaced.
    """

    class Status(models.TextChoices):
        AWAITING_CODE = "awaiting_code", _("waiting for the code from the phone")
        ACTIVE = "active", _("in use")
        REPLACED = "replaced", _("replaced")
        CANCELLED = "cancelled", _("cancelled")

    class Verification(models.TextChoices):
        PENDING = "pending", _("not checked yet")
        VERIFIED = "verified", _("checked: in the beneficiary's name")
        NAME_MISMATCH = "name_mismatch", _("in someone else's name")
        NOT_FOUND = "not_found", _("the provider does not know it")
        CLOSED = "closed", _("closed")
        UNAVAILABLE = "unavailable", _("the provider could not be reached")

    class CardStatus(models.TextChoices):
        NONE = "", _("not a card")
        ISSUED = "issued", _("issued, not yet activated")
        ACTIVE = "active", _("active")
        BLOCKED = "blocked", _("blocked")
        REPLACED = "replaced", _("replaced")

    person = models.ForeignKey(
        "identity.Person", on_delete=models.PROTECT, related_name="payment_accounts"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    provider = models.CharField(max_length=16)  # bank code (HABB), wallet or card issuer
    number = EncryptedTextField()
    number_index = models.CharField(max_length=64, db_index=True)
    display = models.CharField(max_length=40)  # masked, e.g. "PK36 HABB •••• 1234"
    holder_name = EncryptedTextField(blank=True)  # the name the provider holds
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.AWAITING_CODE)
    verification = models.CharField(
        max_length=16, choices=Verification.choices, default=Verification.PENDING
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    card_status = models.CharField(
        max_length=10, choices=CardStatus.choices, default=CardStatus.NONE, blank=True
    )
    activated_at = models.DateTimeField(null=True, blank=True)
    replaced_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["person"], condition=Q(status="active"), name="one_active_payment_account"
            ),
            models.CheckConstraint(
                condition=Q(channel="card") | Q(card_status=""), name="card_status_only_for_cards"
            ),
        ]
        permissions = [
            ("manage_accounts", "Can record a beneficiary's payment account (she confirms)"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.display}"


class PaymentCycle(PublicModel):
    """One round of payments of one program from one approved targeting run, e.g. cash
    transfer 2026-Q4: 812,004 entitlements, Rs 10.96 bn, 3,120 held; prepared by one
    officer, approved by a payment approver with her authenticator code.

    Approval locks it: the entitlements never change after, and the ledger gets an
    entry with the totals per district.
    """

    class Status(models.TextChoices):
        COMPUTING = "computing", _("working out the entitlements")
        PREPARED = "prepared", _("waiting for approval")
        APPROVED = "approved", _("approved")
        DISBURSING = "disbursing", _("being paid")
        CLOSED = "closed", _("closed")
        REJECTED = "rejected", _("rejected")

    program = models.ForeignKey(
        "programs.Program", on_delete=models.PROTECT, related_name="payment_cycles"
    )
    run = models.ForeignKey(
        "programs.TargetingRun", on_delete=models.PROTECT, related_name="payment_cycles"
    )
    label = models.CharField(max_length=20)  # e.g. "2026-Q4"
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.COMPUTING)
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL)
    payable_count = models.PositiveIntegerField(default=0)
    payable_total = models.BigIntegerField(default=0)
    held_count = models.PositiveIntegerField(default=0)
    held_total = models.BigIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    ledger_leaf = models.BinaryField(max_length=32, null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["program", "label"], name="one_cycle_per_label"),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=models.F("prepared_by")),
                name="cycle_four_eyes",
            ),
        ]
        permissions = [
            ("prepare_cycles", "Can prepare payment cycles"),
            ("view_payments", "Can see payments and their history"),
        ]

    def __str__(self) -> str:
        return f"{self.program_id} {self.label}"


class Payment(models.Model):
    """One entitlement and its payment, e.g. Rs 13,500 to Gul Bibi's HBL account in cash
    transfer 2026-Q4, instructed in bank batch 3, paid on 2026-12-04.

    ``key`` (32 characters, derived from cycle, beneficiary and component) is the
    idempotency key: unique here, the EndToEndId at the bank, the reference on the
    beneficiary's receipt. ``hold`` says why an entitlement is not paid.
    """

    class Status(models.TextChoices):
        HELD = "held", _("held")
        PENDING = "pending", _("waiting to be sent")
        INSTRUCTED = "instructed", _("sent to the bank or provider")
        PAID = "paid", _("paid")
        FAILED = "failed", _("failed")
        RETURNED = "returned", _("returned by the bank")
        UNCLAIMED = "unclaimed", _("not collected")
        REVERSED = "reversed", _("reversed")

    class Hold(models.TextChoices):
        NONE = "", _("no hold")
        SUSPENDED = "suspended", _("beneficiary suspended")
        DECEASED = "deceased", _("recipient recorded as deceased")
        INVESTIGATION = "investigation", _("under investigation")
        NO_ACCOUNT = "no_account", _("no verified payment account")
        NO_RECIPIENT = "no_recipient", _("no enrolled adult to receive it")

    id = models.BigAutoField(primary_key=True)
    # The idempotency key, rules.payment_key(cycle, beneficiary, component): its unique
    # constraint (payment_key, in Meta) is what allows one payment per entitlement (no
    # second unique index on the three columns: each index in random order costs a
    # quarter of a batch's UPDATE). A constraint rather than unique=True, which on
    # PostgreSQL adds a second index for LIKE on the key that no query uses.
    key = models.CharField(max_length=32)
    # Each index is written on every insert and on every status change (a change of an
    # indexed column is never a HOT update), so only those some query reads: none for
    # cycle (the status index leads with it), person (payment_person leads with it),
    # district (read through the cycle), beneficiary or account (no query reads payments
    # by either alone), and the batch's only once the payment is in one (payment_batch).
    #
    # The beneficiary, the person and the account are not foreign-key constraints in the
    # database (db_constraint=False). Each payment is written by the cycle's job from
    # those rows, read in the same transaction, and the platform never deletes them (a
    # beneficiary is exited, a person marked deceased, an account replaced); Django's
    # PROTECT still refuses a delete through the ORM. A constraint would lock each
    # referenced row (FOR KEY SHARE) as the payment is written: a page of each of three
    # large tables dirtied and logged per payment, about a minute of PostgreSQL's CPU in
    # a cycle of a million (docs/performance.md). The cycle, the district and the batch
    # (a few rows, each locked once per transaction) keep theirs.
    cycle = models.ForeignKey(
        PaymentCycle, on_delete=models.PROTECT, related_name="payments", db_index=False
    )
    beneficiary = models.ForeignKey(
        "programs.Beneficiary",
        on_delete=models.PROTECT,
        related_name="payments",
        db_index=False,
        db_constraint=False,
    )
    component = models.CharField(max_length=16, default="benefit")
    person = models.ForeignKey(
        "identity.Person",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
        db_index=False,
        db_constraint=False,
    )
    district = models.ForeignKey(
        "core.District", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    amount = models.PositiveIntegerField()
    hold = models.CharField(max_length=16, choices=Hold.choices, default=Hold.NONE, blank=True)
    account = models.ForeignKey(
        PaymentAccount,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
        db_index=False,
        db_constraint=False,
    )
    channel = models.CharField(max_length=8, choices=Channel.choices, blank=True)
    provider = models.CharField(max_length=16, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices)
    batch = models.ForeignKey(
        "PaymentBatch",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
        db_index=False,
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    reason_code = models.CharField(max_length=8, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["cycle", "status", "channel"], name="payment_cycle_status"),
            models.Index(fields=["person", "id"], name="payment_person"),
            # A batch's payments in order (its file); a payment enters it when batched.
            models.Index(
                fields=["batch", "id"], name="payment_batch", condition=Q(batch__isnull=False)
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["key"], name="payment_key"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(status="held", hold__gt="") | (~Q(status="held") & Q(hold="")),
                name="held_payments_say_why",
            ),
        ]

    def __str__(self) -> str:
        return self.key


class PaymentBatch(PublicModel):
    """One file or request to one provider, e.g. bank batch 3 of cash transfer 2026-Q4:
    40,000 payments to HBL accounts, Rs 540,000,000, pain.001 message RDP3F…."""

    class Status(models.TextChoices):
        BUILDING = "building", _("being built")
        READY = "ready", _("ready to send")
        SENT = "sent", _("sent")
        CLOSED = "closed", _("every payment has an outcome")

    cycle = models.ForeignKey(PaymentCycle, on_delete=models.PROTECT, related_name="batches")
    number = models.PositiveIntegerField()
    channel = models.CharField(max_length=8, choices=Channel.choices)
    provider = models.CharField(max_length=16)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BUILDING)
    message_id = models.CharField(max_length=35, unique=True)
    count = models.PositiveIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    file_name = models.CharField(max_length=200, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["cycle", "number"]
        constraints = [
            models.UniqueConstraint(fields=["cycle", "number"], name="batch_number_once")
        ]

    def __str__(self) -> str:
        return f"batch {self.number} ({self.channel}/{self.provider})"


class PaymentEvent(TimeStampedModel):
    """One change of one payment, with the public ledger entry that records it, e.g.
    payment RDQ7… paid on 2026-12-04 (pain.002 from HBL), ledger leaf 9f3c….

    The receipt of the payment is built from ``leaf_hash`` (its place in the log)."""

    id = models.BigAutoField(primary_key=True)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="events")
    status = models.CharField(max_length=12, choices=Payment.Status.choices)
    source = models.CharField(max_length=16)  # cycle, batch, pain002, callback, agent, officer
    reason_code = models.CharField(max_length=8, blank=True)
    leaf_hash = models.BinaryField(max_length=32, null=True, blank=True)
    entry_id = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["payment", "id"]

    def __str__(self) -> str:
        return f"{self.payment_id} {self.status}"


class ReferenceAccount(models.Model):
    """The reference providers' own books (banks, wallet operators, card issuers) — what
    the reference adapters answer from, as the national ID reference register does for
    identity. Example: HBL's account PK36 HABB …, title "Gul Bibi", open, Rs 500,000 a
    day. Production adapters ask the providers instead (docs/payments.md)."""

    class State(models.TextChoices):
        OPEN = "open", _("open")
        CLOSED = "closed", _("closed")
        BLOCKED = "blocked", _("blocked")

    channel = models.CharField(max_length=8, choices=Channel.choices)
    provider = models.CharField(max_length=16)
    number_index = models.CharField(max_length=64)
    holder_name = EncryptedTextField()
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN)
    daily_limit = models.PositiveIntegerField(default=500_000)
    # Prepaid cards only (the card issuer's books): rupees on the card, the last four
    # digits of its number (the issuer keeps the rest), where it was delivered, and
    # when the cardholder activated it. A replaced card is closed with balance 0.
    balance = models.BigIntegerField(default=0)
    pan_last4 = models.CharField(max_length=4, blank=True)
    district = models.CharField(max_length=60, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "provider", "number_index"], name="reference_account_once"
            ),
            models.CheckConstraint(
                condition=Q(balance__gte=0), name="reference_balance_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel}/{self.provider}"


class ProviderMessage(TimeStampedModel):
    """One status message received from a provider, once: a bank's pain.002 report or a
    wallet operator's callback, e.g. HBL report STS-20261204-0003 on batch 3: 39,812
    paid, 188 failed. A second delivery of the same message id changes nothing."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", _("applied")
        REJECTED = "rejected", _("rejected")

    source = models.CharField(max_length=24)  # e.g. "bank:HABB", "wallet:jazzcash"
    message_id = models.CharField(max_length=64)
    batch = models.ForeignKey(
        PaymentBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    sha256 = models.CharField(max_length=64)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    counts = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["source", "message_id"], name="provider_message_once")
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.message_id}"


class CashOut(PublicModel):
    """An agent hands a beneficiary the cash of one payment, e.g. agent Zarif Khan at the
    Mingora campsite gave Gul Bibi Rs 13,500 for payment RDQ7…: she gave him the code
    sent to her phone, he recorded the amount, and she confirmed it by SMS.

    A payment is cashed out at most once (database constraint). If she says she got
    less than the agent recorded, the cash-out is disputed: a deduction report that
    the fraud review counts against the agent.
    """

    class Status(models.TextChoices):
        AWAITING_CODE = "awaiting_code", _("waiting for the beneficiary's code")
        HANDED_OVER = "handed_over", _("handed over, waiting for her confirmation")
        CONFIRMED = "confirmed", _("confirmed by the beneficiary")
        DISPUTED = "disputed", _("she reports receiving less")
        CANCELLED = "cancelled", _("cancelled")

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="cash_outs")
    person = models.ForeignKey("identity.Person", on_delete=models.PROTECT, related_name="+")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    location = models.CharField(max_length=120, blank=True)
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.AWAITING_CODE)
    amount_due = models.PositiveIntegerField()
    amount_handed = models.PositiveIntegerField(null=True, blank=True)
    amount_confirmed = models.PositiveIntegerField(null=True, blank=True)
    handed_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_via = models.CharField(max_length=8, blank=True)  # sms, web, officer

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["payment"],
                condition=~Q(status="cancelled"),
                name="one_cash_out_per_payment",
            ),
            models.CheckConstraint(
                condition=Q(amount_handed__isnull=True)
                | Q(amount_handed__lte=models.F("amount_due")),
                name="cash_out_not_above_due",
            ),
        ]
        permissions = [("operate_cash_out", "Can hand out cash to beneficiaries (payment agent)")]

    def __str__(self) -> str:
        return f"cash-out {self.payment_id} ({self.status})"
