from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from schema.models import Dataset, utcnow
from schema.repositories import accounts


def _dataset(s):
    d = Dataset(
        slug="d",
        title="D",
        max_cases_per_person=2,
        max_vulnerable_groups=2,
        max_referrals=3,
        cap_micro=10_000_000,
        spent_micro=0,
        max_per_query_micro=500_000,
    )
    s.add(d)
    s.flush()
    return d


def test_keys_authenticate_until_revoked_or_expired(engine):
    with Session(engine) as s, s.begin():
        account = accounts.create_account(s, name="Dr A", role="researcher")
        key, raw = accounts.issue_key(s, account.id)
        _soon, soon_raw = accounts.issue_key(
            s, account.id, expires_at=utcnow() + timedelta(hours=1)
        )
        assert len(raw) >= 43  # 32 random bytes
        assert accounts.authenticate(s, raw)[0].id == account.id
        assert accounts.authenticate(s, raw + "x") is None
        assert accounts.authenticate(s, "") is None
        later = utcnow() + timedelta(hours=2)
        assert accounts.authenticate(s, soon_raw, now=later) is None
        assert accounts.authenticate(s, soon_raw)[0].id == account.id
        accounts.revoke_key(s, key.id)
        assert accounts.authenticate(s, raw) is None
        account.active = False
        assert accounts.authenticate(s, soon_raw) is None


def test_last_use_is_recorded_at_most_once_a_minute(engine):
    with Session(engine) as s, s.begin():
        account = accounts.create_account(s, name="Dr C", role="researcher")
        key, raw = accounts.issue_key(s, account.id)
        _, found = accounts.authenticate(s, raw)
        assert accounts.needs_touch(found)
        accounts.touch(s, key.id)
        s.refresh(key)
        first = key.last_used_at
        assert first is not None and not accounts.needs_touch(key)
        accounts.touch(s, key.id)
        s.refresh(key)
        assert key.last_used_at == first
        assert accounts.needs_touch(key, now=utcnow() + timedelta(minutes=2))


def test_roles_and_names_are_checked(engine):
    with Session(engine) as s, s.begin():
        with pytest.raises(ValueError, match="role must be one of"):
            accounts.create_account(s, name="x", role="superuser")
        with pytest.raises(ValueError, match="needs a name"):
            accounts.create_account(s, name="  ", role="partner")


def test_budgets_change_but_never_below_what_was_spent(engine):
    with Session(engine) as s, s.begin():
        d = _dataset(s)
        a = accounts.create_account(s, name="NGO", role="partner")
        assert accounts.set_account_budget(s, a.id, d.id, 1_000_000) == (None, 1_000_000)
        assert accounts.set_account_budget(s, a.id, d.id, 2_000_000) == (1_000_000, 2_000_000)
        d.spent_micro = 3_000_000
        with pytest.raises(ValueError, match="below what has already been spent"):
            accounts.set_dataset_budget(s, d, 2_000_000, 500_000)
        assert accounts.set_dataset_budget(s, d, 4_000_000, 250_000) == {
            "cap_micro": 10_000_000,
            "max_per_query_micro": 500_000,
        }


def test_no_piece_of_any_key_is_stored(tmp_path, sqlite_template):
    from schema.db import make_engine

    db = tmp_path / "w.db"
    db.write_bytes(sqlite_template.read_bytes())
    engine = make_engine(f"sqlite:///{db}")
    raws = []
    with Session(engine) as s, s.begin():
        account = accounts.create_account(s, name="Dr B", role="researcher")
        for _ in range(10):
            raws.append(accounts.issue_key(s, account.id)[1])
    engine.dispose()
    blob = b"".join(f.read_bytes() for f in tmp_path.glob("w.db*"))
    for raw in raws:
        for i in range(len(raw) - 7):
            assert raw[i : i + 8].encode() not in blob


def test_the_token_and_budgets_read_gives_what_the_entities_hold(engine):
    """``generation_and_budgets`` reads columns, not entities (a cache hit's read): the same
    token and, for each budget of the account and no other's, the values AccountBudget has."""
    from sqlalchemy import select

    from schema import generation
    from schema.access import AccountBudget

    with Session(engine) as s, s.begin():
        d = _dataset(s)
        other = Dataset(**{c: getattr(d, c) for c in ("title", "max_cases_per_person")})
        other.slug, other.max_vulnerable_groups, other.max_referrals = "e", 2, 3
        other.cap_micro, other.spent_micro, other.max_per_query_micro = 10_000_000, 0, 500_000
        s.add(other)
        a = accounts.create_account(s, name="Dr A", role="researcher")
        b = accounts.create_account(s, name="Dr B", role="researcher")
        accounts.set_account_budget(s, a.id, d.id, 700_000)
        accounts.set_account_budget(s, a.id, other.id, 300_000)
        accounts.set_account_budget(s, b.id, d.id, 900_000)
        ids = a.id, b.id, d.id
    with Session(engine) as s:
        token, budgets = accounts.generation_and_budgets(s, ids[0])
        assert token == s.scalar(select(generation.token_column())) and token is not None
        entities = s.scalars(select(AccountBudget).where(AccountBudget.account_id == ids[0]))
        held = {e.dataset_id: (e.dataset_id, e.limit_micro, e.spent_micro) for e in entities}
        assert {k: tuple(v) for k, v in budgets.items()} == held and len(held) == 2
        assert budgets[ids[2]].limit_micro == 700_000 and budgets[ids[2]].spent_micro == 0
        none = accounts.create_account(s, name="Dr C", role="researcher")
        s.flush()
        assert accounts.generation_and_budgets(s, none.id)[1] == {}
