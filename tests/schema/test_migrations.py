import pytest
from sqlalchemy import inspect

from schema.db import make_engine
from schema.migrate import check, downgrade, upgrade
from schema.models import Base


def _round_trip(url: str) -> None:
    upgrade(url)
    downgrade(url, "base")
    engine = make_engine(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    upgrade(url)
    check(url)  # raises when the models and the migrations disagree
    engine = make_engine(url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_round_trip_sqlite(tmp_path):
    _round_trip(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_round_trip_postgres(pg_databases):
    _round_trip(pg_databases.create())


def test_upgrading_a_loaded_warehouse_gives_its_datasets_default_budgets(tmp_path):
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO datasets (slug, title, max_cases_per_person, max_vulnerable_groups,"
                " max_referrals, created_at) VALUES ('d', 'D', 2, 2, 3, '2025-01-01')"
            )
        )
    upgrade(url)
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT cap_micro, spent_micro, max_per_query_micro FROM datasets")
        ).one()
        head = conn.execute(text("SELECT last_hash, entries FROM audit_head")).one()
    engine.dispose()
    assert tuple(row) == (10_000_000, 0, 500_000)
    assert tuple(head) == ("0" * 64, 0)
