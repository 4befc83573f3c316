"""The numpy decode of the GROUP BY (``count_grid``) against the dict decode (``count_cases``)
on real data, SQLite and PostgreSQL: the same counts exactly, in the key set's order."""

from itertools import product

import numpy as np
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from etl.load import load_file
from etl.synth import SynthOptions, write_export
from schema.codelists import codelists, time_codes
from schema.db import is_busy
from schema.repositories.warehouse import count_cases, count_grid
from tests.etl.helpers import options

ASKED = [
    ([], {}, None),
    (["gender"], {}, None),
    (["month", "complaint_type", "gender"], {}, None),
    (["quarter", "complaint_group", "fia_city"], {}, None),
    (["year", "vulnerable_group"], {}, None),
    (["referral", "vulnerable_group", "age_band"], {}, None),
    (["province", "gender"], {"vulnerable_group": ["MINOR"], "gender": ["F", "GM"]}, None),
    (["month", "referral"], {"referral": ["FIA", "LEGAL_AID"]}, ("2024-03", "2024-11")),
    (["city"], {"province": ["GB"], "complaint_type": ["NCII"]}, ("2024-12", "2024-12")),
    (["gender"], {"city": ["SKARDU"], "complaint_type": ["NCII"]}, ("2024-01", "2024-01")),
]


@pytest.fixture
def warehouse(engine, tmp_path):
    path = tmp_path / "export.csv"
    write_export(path, SynthOptions(years=(2024, 2024), seed=7))
    load_file(path, engine, options())
    return engine


def _codes(name: str, filters: dict[str, list[str]]) -> list[str]:
    codes = (
        time_codes(name, "2024-01", "2024-12")
        if name in ("month", "quarter", "year")
        else codelists()[name].code_list()
    )
    return [c for c in codes if c in filters[name]] if name in filters else codes


def test_count_grid_is_the_dict_decode_exactly(warehouse):
    seen = 0
    with Session(warehouse) as s:
        for group_by, filters, period in ASKED:
            axes = [(d, _codes(d, filters)) for d in group_by]
            old = count_cases(s, 1, group_by, filters, period)
            keys = list(product(*(codes for _, codes in axes)))
            expected = np.array([old.get(k, 0) for k in keys], dtype=np.int64)
            got = count_grid(s, 1, axes, filters, period)
            # Again, from the statement the worker built once: the same counts.
            assert np.array_equal(count_grid(s, 1, axes, dict(filters), period), got)
            assert got.dtype == np.int64 and got.shape == expected.shape, group_by
            assert np.array_equal(got, expected), (group_by, filters, period)
            seen += int(expected.sum() > 0)
    assert seen >= len(ASKED) - 2  # the smallest may hold no case


def test_a_grid_read_cut_short_is_busy_as_through_sqlalchemy(warehouse):
    """On PostgreSQL the grid's rows are the driver's own tuples; a wait cut short by the
    server (here lock_timeout, the fact table locked by another connection) is still
    SQLAlchemy's error, which ``is_busy`` reads as "retry", so a release's savepoint undoes
    its claim and charge instead of marking it failed."""
    if warehouse.dialect.name != "postgresql":
        pytest.skip("lock_timeout is PostgreSQL's")
    other = create_engine(warehouse.url)
    try:
        with other.connect() as holder, holder.begin():
            holder.execute(text("LOCK TABLE case_counts IN ACCESS EXCLUSIVE MODE"))
            with Session(warehouse) as s, s.begin():
                s.execute(text("SET LOCAL lock_timeout = '100ms'"))
                with pytest.raises(sa_exc.DBAPIError) as raised:
                    count_grid(s, 1, [("gender", _codes("gender", {}))])
        assert is_busy(raised.value)
        with Session(warehouse) as s:  # and once the lock is gone, the counts
            assert count_grid(s, 1, [("gender", _codes("gender", {}))]).sum() > 0
    finally:
        other.dispose()
