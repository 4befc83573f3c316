"""Audit entries as sentences people read ("Alice set Bob's budget on helpline-cases to ε 2:
reason …"), for the audit page. The stored JSON stays what the API and the CLI return.

Only what the entry holds is said: names of accounts (staff may read them), datasets, ε
(public to staff), release ids and reasons; an entry never holds a true count.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from api.staff.records import AuditRecord
from privacy import Epsilon

Names = Mapping[int, str]  # account id -> name


class _Say:
    """What one entry's sentence is made of."""

    def __init__(self, entry: AuditRecord, names: Names) -> None:
        self.entry, self.names = entry, names
        try:
            found = json.loads(entry.detail or "{}")
        except ValueError:
            found = {}
        self.detail: dict[str, Any] = found if isinstance(found, dict) else {}

    def account(self, account_id: object) -> str:
        if isinstance(account_id, int) and not isinstance(account_id, bool):
            name = self.names.get(account_id)
            return f"{name} (#{account_id})" if name else f"account #{account_id}"
        return "an unknown account"

    @property
    def who(self) -> str:
        """Who acted: the staff member named by ``by``, the terminal, or the entry's account."""
        by = self.detail.get("by")
        if by == "cli":
            return "Someone at the terminal (amaan CLI)"
        if isinstance(by, str) and by.startswith("account:") and by[8:].isdigit():
            return self.account(int(by[8:]))
        if self.entry.account_id is None:
            return "Someone"
        return self.account(self.entry.account_id)

    @property
    def target(self) -> str:
        return self.account(self.detail.get("account"))

    @property
    def dataset(self) -> str:
        return self.entry.dataset or "a dataset"

    @property
    def eps(self) -> str:
        return f"ε {self.entry.epsilon}" if self.entry.epsilon is not None else "no ε"

    def micro(self, value: object) -> str:
        return f"ε {Epsilon(value)}" if isinstance(value, int) and value >= 0 else "none"

    @property
    def reason(self) -> str:
        text = self.detail.get("reason")
        return f": reason “{text}”" if isinstance(text, str) and text else ""

    @property
    def release(self) -> str:
        release = self.detail.get("release")
        return f" (release {release})" if isinstance(release, str) else ""


def _budget_account(s: _Say) -> str:
    old = s.detail.get("old_micro")
    was = f" (was {s.micro(old)})" if old is not None else " (it had no budget there)"
    new = s.micro(s.detail.get("new_micro"))
    return f"{s.who} set {s.target}'s budget on {s.dataset} to {new}{was}{s.reason}"


def _budget_dataset(s: _Say) -> str:
    old, new = s.detail.get("old") or {}, s.detail.get("new") or {}
    return (
        f"{s.who} set the cap on {s.dataset} to {s.micro(new.get('cap_micro'))} and the most "
        f"per query to {s.micro(new.get('max_per_query_micro'))} (was "
        f"{s.micro(old.get('cap_micro'))} and {s.micro(old.get('max_per_query_micro'))})"
        f"{s.reason}"
    )


def _account_create(s: _Say) -> str:
    datasets = s.detail.get("datasets") or []
    access = ", ".join(str(d) for d in datasets) if datasets else "no dataset"
    role = s.detail.get("role", "an")
    return f"{s.who} created the {role} account {s.target}, with access to {access}"


def _account_update(s: _Say) -> str:
    if s.entry.outcome == "deactivated":
        return f"{s.who} deactivated {s.target}; its keys stopped working"
    changes = [
        f"{field} from “{pair[0]}” to “{pair[1]}”"
        for field, pair in s.detail.items()
        if field not in ("by", "account") and isinstance(pair, list) and len(pair) == 2
    ]
    return f"{s.who} changed {s.target}: " + ("; ".join(changes) or "nothing")


def _query(s: _Say) -> str:
    what = "a query" if s.entry.action == "query" else "a publication"
    outcome = s.entry.outcome
    if outcome == "released":
        return f"{s.who} ran {what} on {s.dataset}, charged {s.eps}{s.release}"
    if outcome == "cache_hit":
        return f"{s.who} repeated {what} on {s.dataset}, answered from the cache for free"
    if outcome == "failed":
        return f"{s.who} ran {what} on {s.dataset}, charged {s.eps}, but it failed{s.release}"
    grouped = ", ".join(str(g) for g in s.detail.get("group_by") or []) or "nothing"
    return f"{s.who}'s {what} on {s.dataset} (grouped by {grouped}) was refused: {outcome}"


def _publish(s: _Say) -> str:
    audience = s.detail.get("audience") or []
    to = (
        "all partners"
        if audience == ["all-partners"]
        else ", ".join(s.account(a) for a in audience) or "nobody"
    )
    if s.detail.get("report"):  # an annual report: its summary was charged when published
        return f"{s.who} published the annual report{s.release} from {s.dataset} to {to}"
    return f"{s.who} published{s.release} from {s.dataset} to {to}, charged {s.eps} to the cap"


_SENTENCES: dict[str, Callable[[_Say], str]] = {
    "budget.account": _budget_account,
    "budget.dataset": _budget_dataset,
    "account.create": _account_create,
    "account.update": _account_update,
    "query": _query,
    "publication": _query,
    "publish": _publish,
    "estimate": lambda s: (
        f"{s.who} asked what a query on {s.dataset} would cost: {s.eps}"
        + (" (already released, so free)" if s.entry.outcome == "cached" else "")
        if s.entry.outcome in ("estimated", "cached")
        else f"{s.who}'s estimate on {s.dataset} was refused: {s.entry.outcome}"
    ),
    "download": lambda s: f"{s.who} downloaded{s.release} from {s.dataset} ({s.entry.outcome})",
    "key.issue": lambda s: f"{s.who} issued key #{s.detail.get('key_id')} to {s.target}",
    "key.revoke": lambda s: f"{s.who} revoked key #{s.detail.get('key_id')} of {s.target}",
    "grant.set": lambda s: f"{s.who} gave {s.target} access to {s.dataset}",
    "grant.remove": lambda s: f"{s.who} took away {s.target}'s access to {s.dataset}",
    "admin.sign_in": lambda s: (
        f"{s.who} signed in to the staff page"
        if s.entry.outcome == "signed_in"
        else "A sign-in to the staff page was refused"
        + (f" (a key of {s.who}, not a staff key)" if s.entry.account_id else "")
    ),
    "admin.sign_out": lambda s: f"{s.who} signed out of the staff page",
    "audit.rekeyed": lambda s: (
        f"The audit log was sealed with a new key ({s.detail.get('legacy_entries')} older "
        f"entries re-sealed; {s.entry.outcome})"
    ),
}


def sentence(entry: AuditRecord, names: Names) -> str:
    """The entry as one sentence; an action without its own wording is still said plainly."""
    say = _Say(entry, names)
    wording = _SENTENCES.get(entry.action)
    if wording is None:
        return f"{say.who}: {entry.action}, {entry.outcome}."
    return wording(say) + "."
