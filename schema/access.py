"""Who may ask what: accounts, API keys, grants, budgets, and the hash-chained audit log.

Privacy loss is stored as integer micro-ε (BIGINT), never as floats. An API key is never
stored: only its SHA-256.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, NamedTuple, get_args

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from schema.models import Base, utcnow

Role = Literal["researcher", "partner", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)

# A release asked for by a caller (charged to their budget), made for a publication or a
# summary (charged to the dataset's cap only).
ReleaseKind = Literal["query", "publication", "summary"]

# What the audit log records. A new action is added here (and, if it charges, to
# ``schema.repositories.audit_verify.CHARGES``).
AuditAction = Literal[
    "query",
    "estimate",
    "publication",
    "publish",
    "summary",
    "download",
    "account.create",
    "account.update",
    "key.issue",
    "key.revoke",
    "grant.set",
    "grant.remove",
    "budget.account",
    "budget.dataset",
    "admin.sign_in",
    "admin.sign_out",
    "audit.rekeyed",
]
AUDIT_ACTIONS: tuple[AuditAction, ...] = get_args(AuditAction)


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint("role IN ('researcher', 'partner', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Grant(Base):
    """An account may query (or download from) a dataset."""

    __tablename__ = "grants"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AccountBudget(Base):
    """An account's privacy budget on one dataset. The checks make overspending impossible."""

    __tablename__ = "account_budgets"
    __table_args__ = (
        CheckConstraint("spent_micro >= 0", name="spent_not_negative"),
        CheckConstraint("spent_micro <= limit_micro", name="within_limit"),
    )

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    limit_micro: Mapped[int] = mapped_column(BigInteger)
    spent_micro: Mapped[int] = mapped_column(BigInteger, default=0)


class BudgetRead(NamedTuple):
    """An account's budget on a dataset as a cache hit reads it (a Core row: a hit only
    shows what is left, and an ORM entity costs more to load); never changed in place."""

    dataset_id: int
    limit_micro: int
    spent_micro: int


QueryBudget = AccountBudget | BudgetRead  # what the release service reads of a budget


class AuditEntry(Base):
    """Append-only. Written with a keyed ``mac`` of its fields, in the transaction of what it
    records; given its place (``seq``, ``prev_hash``, ``hash``) shortly after by the sealer
    (``schema.repositories.audit``). Unsealed entries have no place yet."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(48))
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id"))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("dataset_versions.id"))
    canonical_key: Mapped[str | None] = mapped_column(String(64), index=True)
    epsilon_micro: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str] = mapped_column(Text, default="{}")  # JSON; never a true count or a key
    # None only on entries of the first, unkeyed schema until they are re-sealed.
    nonce: Mapped[str | None] = mapped_column(String(32))
    mac: Mapped[str | None] = mapped_column(String(64), unique=True)
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """One row: the sealed chain's length and newest hash. Only the sealer writes it, and it
    locks the row to be the only sealer. ``keyed`` is false until the entries of the first,
    unkeyed schema are re-sealed under the key."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_hash: Mapped[str] = mapped_column(String(64))
    entries: Mapped[int] = mapped_column(BigInteger, default=0)
    keyed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Which key sealed the chain: a keyed hash of a fixed label, never the key. Set by the
    # first keyed seal; a process with another key is refused before it writes anything.
    key_id: Mapped[str | None] = mapped_column(String(64))


class Release(Base):
    """A released table, stored under its canonical query key; repeats return it unchanged."""

    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    canonical_key: Mapped[str] = mapped_column(String(64), unique=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[ReleaseKind] = mapped_column(String(16), default="query")
    query: Mapped[str] = mapped_column(Text)  # the canonical form, JSON
    epsilon_micro: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[str] = mapped_column(Text)  # released cells and their metadata, JSON
    # The same in columns, compressed (api.columns): a new release's body, its ``body`` empty.
    packed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The measurement's noisy cells (JSON): intervals at another confidence are computed from
    # them. Never served as such: suppressed cells stay suppressed.
    noisy: Mapped[str | None] = mapped_column(Text)
    # The release failed after its data was read: charged, audited, and answered as an error
    # (the same error on every repeat, so a failure cannot be retried into fresh noise).
    failed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LedgerEntry(Base):
    """Every charge of privacy loss; per account and dataset they add up to ``spent_micro``."""

    __tablename__ = "ledger"
    __table_args__ = (CheckConstraint("epsilon_micro > 0", name="positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    kind: Mapped[ReleaseKind] = mapped_column(String(16))
    epsilon_micro: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Publication(Base):
    """A named extract staff published to partners: one stored release and who may read it.

    Immutable once written; re-publishing for a newer dataset version adds a new publication
    that names the one it replaces, and the old one stays downloadable.
    """

    __tablename__ = "publications"
    __table_args__ = (CheckConstraint("rounding >= 1", name="rounding_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    all_partners: Mapped[bool] = mapped_column(Boolean, default=False)
    rounding: Mapped[int] = mapped_column(default=5)
    margins: Mapped[bool] = mapped_column(Boolean, default=False)
    published_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("publications.id"))
    # The dimensions in the order the query grouped them (JSON list): the files' column order.
    # None for publications made before it was kept: the release's sorted order.
    group_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StoredSummary(Base):
    """A published summary: its release (kind "summary": charged, audited, immutable) and
    what rebuilds it. The design (tables, axes, codes, sensitivities, roll-ups) is stored as
    it was, so later code lists never change an old summary; ``slices`` holds every noisy
    slice it answers from, those measured for it and those copied from the summary it
    extends (``extends_id``); ``charged`` is the series' ε per table (micro-ε, JSON)."""

    __tablename__ = "summaries"

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), unique=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"), index=True)
    template: Mapped[str] = mapped_column(String(32))
    year: Mapped[int | None] = mapped_column()
    first_month: Mapped[str] = mapped_column(String(7))
    last_month: Mapped[str] = mapped_column(String(7))
    design: Mapped[str] = mapped_column(Text)  # JSON
    scales: Mapped[str] = mapped_column(Text)  # JSON: table -> noise scale
    charged: Mapped[str] = mapped_column(Text)  # JSON: table -> micro-ε of the series
    slices: Mapped[str] = mapped_column(Text)  # JSON: table -> period -> noisy cells
    measured: Mapped[int] = mapped_column()  # slices measured for this summary (not copied)
    extends_id: Mapped[int | None] = mapped_column(ForeignKey("summaries.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PublicationAudience(Base):
    """A partner account a publication was published to (unless it is for all partners)."""

    __tablename__ = "publication_audience"

    publication_id: Mapped[int] = mapped_column(ForeignKey("publications.id"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)


class AdminSession(Base):
    """A staff member signed in to the admin page with an API key.

    The browser holds a random token in an HttpOnly cookie; only its SHA-256 is stored. The
    session ends at ``expires_at``, on sign-out, or as soon as its key or account stops being
    valid. ``csrf_token`` is the synchronizer token every form of the session must carry.
    """

    __tablename__ = "admin_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CacheGeneration(Base):
    """One row (``id`` 1): a random token changed in the transaction of every write that
    per-worker caches depend on (``schema.generation``). No row: nothing is cached."""

    __tablename__ = "cache_generation"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[int] = mapped_column(BigInteger)
