"""consent_to_share: a case without the survivor's consent is never loaded, and is counted."""

import sqlite3

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.cli import main
from etl.errors import LoadRefused
from etl.load import load_file
from schema.models import Dataset, PersonContribution
from schema.repositories.warehouse import count_cases
from schema.settings import get_settings

from .helpers import HEADER, case, options, write_export


def _rows():
    return [
        case(contact_key="a@x.pk", consent_to_share="yes"),
        case(contact_key="b@x.pk", consent_to_share=" YES "),
        case(contact_key="c@x.pk", consent_to_share="No", complaint_type="not a type"),
        case(contact_key="d@x.pk", consent_to_share=""),
        case(contact_key="e@x.pk", consent_to_share="Yes", gender="M"),
    ]


def test_no_and_blank_are_refused_by_default_and_never_loaded(engine, tmp_path):
    report = load_file(write_export(tmp_path / "x.csv", _rows()), engine, options())
    # The "no" case's bad complaint type is not a reject: it is never loaded, nothing to fix.
    assert (report.consent_refused, report.rows_rejected, report.cases_loaded) == (2, 0, 3)
    assert report.balanced()
    with Session(engine) as s:
        assert count_cases(s, 1, ["gender"]) == {("F",): 2, ("M",): 1}
        assert len(s.scalars(select(PersonContribution.pseudonym)).all()) == 3  # no bound used
        assert s.scalars(select(Dataset.blank_is_consent)).one() is False


def test_a_dataset_may_count_blank_as_consent_from_its_creation(engine, tmp_path):
    path = write_export(tmp_path / "x.csv", _rows())
    report = load_file(path, engine, options(dataset="opt-out", blank_is_consent=True))
    assert (report.consent_refused, report.cases_loaded) == (1, 4)
    with pytest.raises(LoadRefused, match="already counts a blank consent_to_share as consent"):
        load_file(path, engine, options(dataset="opt-out", blank_is_consent=False))


def test_anything_but_yes_no_or_blank_is_a_reject(engine, tmp_path):
    rows = [case(contact_key=f"p{i}@x.pk") for i in range(250)]
    rows += [case(consent_to_share="y"), case(consent_to_share="0300-1234567")]
    report = load_file(write_export(tmp_path / "x.csv", rows), engine, options())
    assert report.rejects_by_reason == {"consent_to_share: not yes, no or blank": 2}
    assert "0300-1234567" not in (tmp_path / "x.csv.rejects.csv").read_text()


def test_without_the_column_only_a_dataset_that_counts_blank_loads(engine, tmp_path):
    header = [h for h in HEADER if h != "consent_to_share"]
    path = write_export(tmp_path / "x.csv", [case()], header=header)
    with pytest.raises(LoadRefused, match="no consent_to_share column"):
        load_file(path, engine, options())
    report = load_file(path, engine, options(dataset="opt-out", blank_is_consent=True))
    assert report.cases_loaded == 1


@pytest.fixture
def fresh_settings():
    """The CLI reads settings through a cached function: read them from this test's env."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_cli_sets_blank_consent_when_it_creates_the_dataset(
    tmp_path, sqlite_template, fresh_settings
):
    db = tmp_path / "w.db"
    db.write_bytes(sqlite_template.read_bytes())
    path = write_export(tmp_path / "x.csv", _rows())
    env = {"AMAAN_DATABASE_URL": f"sqlite:///{db}", "AMAAN_PSEUDONYM_KEY": None}
    args = ["etl", "load", str(path), "--dataset", "d", "--demo-key", "--covers", "2024-01:2024-12"]
    result = CliRunner().invoke(main, [*args, "--blank-consent", "yes", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert '"consent_refused": 1' in result.output and '"cases_loaded": 4' in result.output
    with sqlite3.connect(db) as conn:  # it wrote here, not to a database cached elsewhere
        assert conn.execute("SELECT slug, blank_is_consent FROM datasets").fetchall() == [("d", 1)]
    bad = CliRunner().invoke(main, [*args, "--blank-consent", "maybe"], env=env)
    assert bad.exit_code == 2 and "--blank-consent" in bad.output
