"""The synthetic export, loaded, reproduces the published figures (DOMAIN.md) within 1%."""

import pytest
from sqlalchemy.orm import Session

from etl.coverage import Coverage
from etl.load import load_file
from etl.synth import SynthOptions, write_export
from schema.repositories.warehouse import count_cases

from .helpers import options

PUBLISHED_2024 = {
    ("gender", "F"): 1772,
    ("gender", "M"): 1365,
    ("gender", "GM"): 18,
    ("age_band", "U18"): 124,
    ("age_band", "18_30"): 1774,
    ("province", "PB"): 2277,
    ("province", "SD"): 301,
    ("month", "2024-03"): 312,
    ("month", "2024-05"): 386,
    ("month", "2024-07"): 354,
    ("complaint_group", "CYBER_HARASSMENT"): 2741,
    ("vulnerable_group", "MINOR"): 124,
    ("vulnerable_group", "JOURNALIST"): 121,
    ("vulnerable_group", "HRD"): 44,
    ("vulnerable_group", "RELIGIOUS_MINORITY"): 15,
    ("vulnerable_group", "ETHNIC_MINORITY"): 9,
    ("vulnerable_group", "GENDER_MINORITY"): 18,
}
PUBLISHED_YEARS = {
    "2019": 2023,
    "2020": 3298,
    "2021": 4441,
    "2022": 2695,
    "2023": 2473,
    "2024": 3171,
}


def within_1pct(value, target):
    return abs(value - target) <= 0.01 * target


@pytest.fixture
def loaded_2024(engine, tmp_path):
    path = tmp_path / "export-2024.csv"
    write_export(path, SynthOptions(years=(2024, 2024), seed=11, dirty=10))
    report = load_file(path, engine, options())
    assert report.cases_cut_by_person_bound > 100  # the bound had real work to do
    return engine


def test_2024_published_figures(loaded_2024):
    with Session(loaded_2024) as s:
        total = sum(count_cases(s, 1, ["year"]).values())
        assert within_1pct(total, 3171)
        for (dimension, code), target in PUBLISHED_2024.items():
            got = count_cases(s, 1, [dimension]).get((code,), 0)
            assert within_1pct(got, target), (dimension, code, got, target)
        by_type = count_cases(s, 1, ["complaint_type", "gender"])
        for ctype, share in (("NCII", 0.85), ("IBA_OTHER", 0.81)):
            women = by_type[(ctype, "F")]
            all_ = sum(v for (t, _), v in by_type.items() if t == ctype)
            assert abs(women / all_ - share) <= 0.01, (ctype, women / all_)
        women = {t: v for (t, g), v in by_type.items() if g == "F"}
        assert max(women, key=women.get) == "BLACKMAIL"
        fia = count_cases(s, 1, ["fia_city"], {"complaint_group": ["CYBER_HARASSMENT"]})
        share = fia[("YES",)] / (fia[("YES",)] + fia[("NO",)])
        assert abs(share - 0.36) <= 0.01, share
        countries = count_cases(s, 1, ["country"])
        assert len([c for c in countries if c[0] not in ("UNK", "OTHER")]) == 25


@pytest.mark.slow
def test_all_years_add_up_to_the_published_cumulative(engine, tmp_path):
    path = tmp_path / "export.csv"
    write_export(path, SynthOptions(seed=5))
    report = load_file(path, engine, options(covers=Coverage("2017-01", "2024-12")))
    assert within_1pct(report.cases_loaded, 20_020)
    for year, target in PUBLISHED_YEARS.items():
        assert within_1pct(report.cases_loaded_by_year[year], target), year
    assert report.cases_loaded_by_year["2017"] + report.cases_loaded_by_year["2018"] == 1919
