"""What every staff service shares: who acts, the checks of what staff type, and audited
changes.

Every change is audited in the same transaction as the change itself: who made it (the staff
account, or ``cli`` for a terminal session), the account or dataset it touched, the old and
new values, and the written reason for budget changes. Keys are shown once and never logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from api.errors import InvalidChange, NotFound
from privacy import Epsilon, PrivacyError
from schema.access import Account, AuditAction
from schema.models import Dataset
from schema.repositories import accounts as accounts_repo
from schema.repositories import audit
from schema.repositories.datasets import get_dataset


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff account over the API or the page, or a terminal session
    (``account`` None)."""

    account: Account | None = None

    @property
    def id(self) -> int | None:
        return self.account.id if self.account else None

    @property
    def name(self) -> str:
        return f"account:{self.account.id}" if self.account else "cli"


def epsilon(value: str | float | int, what: str) -> Epsilon:
    """ε as staff typed it, above 0; the error starts with ``what`` (the field's name)."""
    try:
        eps = Epsilon.parse(str(value))
    except PrivacyError as exc:
        raise InvalidChange(f"{what}: {exc}", field=what) from None
    if eps.micro <= 0:
        raise InvalidChange(f"{what} must be greater than 0", field=what)
    return eps


def reason(text: str) -> str:
    """The written reason every budget change needs."""
    if not text.strip():
        raise InvalidChange("a budget change needs a written reason", field="reason")
    return text.strip()


def dataset_or_404(session: Session, slug: str) -> Dataset:
    dataset = get_dataset(session, slug.strip().lower())
    if dataset is None:
        raise NotFound(f"no dataset {slug!r}")
    return dataset


def account_or_404(session: Session, account_id: int) -> Account:
    account = accounts_repo.get_account(session, account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    return account


def log(session: Session, actor: Actor, action: AuditAction, outcome: str, **fields: Any) -> None:
    """An audit entry of a staff change, naming who made it."""
    detail = fields.pop("detail", {})
    audit.append(
        session,
        action=action,
        outcome=outcome,
        account_id=actor.id,
        detail={"by": actor.name, **detail},
        **fields,
    )
