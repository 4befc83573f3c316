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
