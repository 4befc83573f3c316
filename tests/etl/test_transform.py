from datetime import date

import pytest

from etl.codes import build_codebook
from etl.reader import KEPT, Chunk
from etl.transform import Limits, transform_chunk

from .helpers import KEY, case

TODAY = date(2025, 6, 30)


DEFAULT_LIMITS = Limits(2, 3)


def _run(rows, limits=DEFAULT_LIMITS):
    cols = {c: [r.get(c, "") for r in rows] for c in KEPT}
    return transform_chunk(Chunk(2, cols, []), build_codebook(), KEY, limits, today=TODAY)


def test_generalises_date_age_city_and_derives_roll_ups():
    t = _run(
        [
            case(
                received_on="2024-05-31 17:45",
                age="17",
                city="  karachi ",
                province="sindh",
                complaint_type="Fin_Fraud",
            )
        ]
    )
    row = t.rows()[0]
    assert (row["month"], row["quarter"], row["year"]) == ("2024-05", "2024-Q2", "2024")
    assert row["age_band"] == "U18"
    assert (row["city"], row["fia_city"], row["province"]) == ("KARACHI", "YES", "SD")
    assert (row["complaint_type"], row["complaint_group"]) == ("FIN_FRAUD", "OTHER_CYBERCRIME")
    assert t.cases["pseudonym"].dtype == "int64"
    assert t.cases["day"][0] == date(2024, 5, 31).toordinal()


@pytest.mark.parametrize(
    ("field", "raw", "code"),
    [
        ("gender", "female", "F"),
        ("gender", "WOMEN", "F"),
        ("gender", "Transgender", "GM"),
        ("platform", "twitter", "X"),
        ("platform", "", "NONE_UNK"),
        ("channel", "", "OTHER"),
        ("province", "KPK", "KP"),
        ("province", "", "UNK"),
        ("country", "uae", "AE"),
        ("country", "JP", "OTHER"),
        ("country", "", "UNK"),
        ("city", "D.I. Khan", "DI_KHAN"),
        ("city", "Toronto", "OTHER"),
        ("city", "", "UNK"),
        ("age", "", "UNK"),
        ("age", "61", "60P"),
    ],
)
def test_spellings(field, raw, code):
    t = _run([case(**{field: raw})])
    column = {"age": "age_band"}.get(field, field)
    assert t.rows()[0][column] == code


@pytest.mark.parametrize(
    ("field", "raw", "reason"),
    [
        ("received_on", "2023-02-30", "not a valid date (YYYY-MM-DD)"),
        ("received_on", "2023-02-03x", "not a valid date (YYYY-MM-DD)"),
        ("received_on", "05/03/2024", "not a valid date (YYYY-MM-DD)"),
        ("received_on", "2030-01-01", "date in the future"),
        ("received_on", "", "required value is blank"),
        ("contact_key", "  ", "required value is blank"),
        ("complaint_type", "blakmail", "not a code or label of the code list"),
        ("gender", "", "required value is blank"),
        ("age", "-3", "not a whole number of years"),
        ("age", "abc", "not a whole number of years"),
        ("age", "250", "age above 120"),
        ("age", "٢٤", "not a whole number of years"),  # Unicode digits are not ASCII
        ("age", "²", "not a whole number of years"),  # isdigit() is True, int() raised
        ("received_on", "٢٠٢٤-03-05", "not a valid date (YYYY-MM-DD)"),
        ("received_on", "2024-03-05 ٢:00", "not a valid date (YYYY-MM-DD)"),
        ("country", "Narnia", "not an ISO 3166 country code or a listed country"),
        ("vulnerable_groups", "MINOR;ASTRONAUT", "not a code or label of the code list"),
        ("referrals", "NONE;FIA", "NONE together with other referrals"),
    ],
)
def test_rejects_name_row_column_and_reason_never_the_value(field, raw, reason):
    t = _run([case(), case(**{field: raw})])
    assert len(t) == 1
    rejects = t.rejects.to_dict("records")
    expected_column = field
    assert {"row": 3, "column": expected_column, "reason": reason} in rejects
    flat = " ".join(str(v) for r in rejects for v in r.values())
    if raw.strip():
        assert raw not in flat


def test_multi_valued_bound_keeps_first_values_in_code_list_order():
    t = _run(
        [case(vulnerable_groups="Journalist;minor;HRD", referrals="police;FIA;legal aid;PLATFORM")],
        limits=Limits(2, 3),
    )
    row = t.rows()[0]
    # vulnerable_group order: MINOR(0) JOURNALIST(1) HRD(2) -> keeps MINOR, JOURNALIST
    assert row["vulnerable_group"] == 0b11
    # referral order: FIA(0) POLICE(1) PLATFORM(2) LEGAL_AID(3) -> keeps the first three
    assert row["referral"] == 0b111
    assert t.values_cut == 2


def test_duplicate_values_count_once():
    t = _run([case(vulnerable_groups="MINOR; minor ;MINOR")])
    assert t.rows()[0]["vulnerable_group"] == 1
    assert t.values_cut == 0
