"""The public transparency log: queued entries, the Merkle tree, signed tree heads.

The log's rows are public by design (everything here except the signing seed is
served without login); personal data never enters them (see ``entries.py``).
``LogEntry``, ``Tile``, ``TreeNode`` and ``SignedTreeHead`` are append-only: the
database refuses UPDATE and DELETE (``dbguards``).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from rahdari.core.fields import EncryptedTextField
from rahdari.core.models import TimeStampedModel

# Guarded by the database (migrations 0002 and 0005): no UPDATE, DELETE or TRUNCATE.
APPEND_ONLY_TABLES = [
    "ledger_logentry",
    "ledger_treenode",
    "ledger_signedtreehead",
    "ledger_tile",
]


class PendingEntry(models.Model):
    """An entry submitted in the same transaction as the change it records, waiting to
    be sequenced, e.g. "payments.paid, Rs 13,500" queued by a provider's callback.

    The sequencer (one writer at a time) copies it into the log inside the database
    (``INSERT … SELECT``) and deletes it here.
    """

    id = models.BigAutoField(primary_key=True)
    leaf_hash = models.BinaryField(max_length=32)
    leaf_key = models.BigIntegerField()  # as LogEntry.leaf_key: the row moves as it is
    body = models.BinaryField()
    kind = models.CharField(max_length=40)
    # What the entry adds to the district totals, worked out when it was submitted:
    # one line per row, tab-separated program, cycle, district, count, amount.
    totals = models.TextField()
    submitted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"pending {bytes(self.leaf_hash).hex()[:12]}"


class LogEntry(models.Model):
    """Leaf ``leaf_index`` of the public tree, e.g. leaf 41,207: canonical JSON of one event.

    ``leaf_hash`` is SHA-256(0x00 || body) as RFC 9162 defines it; ``leaf_key`` (its
    first 8 bytes as a signed integer) is what the index holds — a quarter of the
    hash's size, so appending ten million leaves stays fast — and a look-up by hash
    compares both.
    """

    leaf_index = models.BigIntegerField(primary_key=True)
    leaf_hash = models.BinaryField(max_length=32)
    leaf_key = models.BigIntegerField(db_index=True)
    body = models.BinaryField()
    kind = models.CharField(max_length=40)
    integrated_at = models.DateTimeField()

    class Meta:
        ordering = ["leaf_index"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(leaf_index__gte=0), name="ledger_index_natural"
            )
        ]

    def __str__(self) -> str:
        return f"leaf {self.leaf_index} ({self.kind})"


class Tile(models.Model):
    """256 consecutive node hashes of one level, stored once the last of them completes,
    e.g. level 0, tile 3 = the hashes of leaves 768…1023, and level 8, tile 2 = the
    hashes of the subtrees of 256 leaves over leaves 131,072…196,607.

    ``id`` packs the position as ``TreeNode`` does: ``level << 48 | index`` (``level`` is
    a multiple of 8, the tile's bottom level); ``hashes`` is the 256 hashes, 8 KB, and
    ``interior`` the 255 nodes above them, row by row (128, 64, …, the tile's root), so
    that reading a tile hashes nothing: a proof at ten million leaves reads three or
    four rows (the upper ones kept in the process) and slices them. ``interior`` is
    derived from ``hashes`` alone (migration 0007 filled it in for older tiles; a tile
    without it is hashed again from its bottom row when read).
    """

    id = models.BigIntegerField(primary_key=True)
    hashes = models.BinaryField(max_length=8192)
    interior = models.BinaryField(max_length=8160, null=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"tile {self.id >> 48}/{self.id & ((1 << 48) - 1)}"


class TreeNode(models.Model):
    """The hash of one node of the tree's right edge: of a tile that is not full yet.

    ``id`` packs the position: ``level << 48 | index`` is the subtree over leaves
    [index << level, (index + 1) << level), e.g. level 8, index 5 = leaves 1,280…1,535,
    and level 0, index 41,207 = leaf 41,207's hash. Since migration 0005 only levels
    that are the bottom of a tile (0, 8, 16, …) get rows, and only while their tile is
    partial; the tile's row supersedes them when it completes (they stay: append-only).
    Rows written before 0005 hold every node of every level.
    """

    id = models.BigIntegerField(primary_key=True)
    hash = models.BinaryField(max_length=32)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"node {self.id >> 48}/{self.id & ((1 << 48) - 1)}"


class LedgerKey(TimeStampedModel):
    """An Ed25519 key that signs tree heads, e.g. key id 5be1c2d0a9e4f731, signing now.

    Retired keys stay published so that old heads keep verifying.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Signing")
        RETIRED = "retired", _("Verifying only")

    key_id = models.CharField(max_length=16, unique=True)
    public_key = models.BinaryField(max_length=32)
    seed = EncryptedTextField()  # base64 of the 32-byte Ed25519 seed
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(status="active"), name="one_ledger_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key_id} ({self.status})"


class SignedTreeHead(models.Model):
    """The log's signed state at one moment, e.g. 1,204,331 leaves, root 9f3c…, 09:30:00.

    Published at least every minute while the log grows; every head is kept, and each
    one must be consistent with every earlier one.
    """

    tree_size = models.BigIntegerField(unique=True)
    timestamp_ms = models.BigIntegerField()
    root_hash = models.BinaryField(max_length=32)
    signature = models.BinaryField(max_length=64)
    key = models.ForeignKey(LedgerKey, on_delete=models.PROTECT, related_name="tree_heads")

    class Meta:
        ordering = ["-tree_size"]
        constraints = [
            models.CheckConstraint(condition=models.Q(tree_size__gt=0), name="ledger_sth_size")
        ]

    def __str__(self) -> str:
        return f"tree head {self.tree_size}"


class DistrictTotal(models.Model):
    """Running totals derived from the log's entries alone, e.g. cash transfer, cycle
    2026-Q4, Swat, payments.paid: 41,002 payments, Rs 553,527,000.

    Updated by the sequencer in the same transaction as the leaves it integrates, so it
    always equals what ``entries.totals`` computes over the log; ``rahdari ledger
    verify`` recomputes it independently.
    """

    program = models.CharField(max_length=60)
    cycle = models.CharField(max_length=60)
    district = models.CharField(max_length=80)
    kind = models.CharField(max_length=40)
    count = models.BigIntegerField(default=0)
    amount = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["program", "cycle", "district", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "cycle", "district", "kind"], name="ledger_total_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.program} {self.cycle} {self.district} {self.kind}"
