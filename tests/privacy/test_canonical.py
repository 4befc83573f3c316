import pytest

from privacy import Epsilon, MalformedQuery, canonicalise

BASE = {
    "dataset": "helpline-cases",
    "version": 3,
    "group_by": ["gender", "year"],
    "filters": {"province": ["PB", "SD"], "age_band": ["U18"]},
    "period": ("2024-01", "2024-12"),
    "epsilon": Epsilon.parse("0.1"),
}


def key(**changes):
    return canonicalise(**{**BASE, **changes}).key


def test_presentation_does_not_change_the_key():
    k = key()
    assert key(group_by=["year", "gender"]) == k
    assert key(group_by=["YEAR", "gender", "gender"]) == k
    assert key(filters={"age_band": ["u18"], "province": ["sd", "PB", "pb"]}) == k
    assert key(dataset=" Helpline-Cases ") == k
    assert key(epsilon=Epsilon.parse(0.1)) == k


def test_meaning_changes_the_key():
    k = key()
    changed = [
        key(version=4),
        key(group_by=["gender"]),
        key(filters={"province": ["PB"]}),
        key(filters={**BASE["filters"], "gender": ["F"]}),
        key(period=("2024-02", "2024-12")),
        key(period=None),
        key(epsilon=Epsilon.parse("0.2")),
        key(options={"margins": True}),
        key(options={"rounding": 5}),
    ]
    assert len({k, *changed}) == len(changed) + 1


def test_the_key_holds_epsilon_never_the_confidence():
    """Intervals are post-processing: the same table at another confidence is one release."""
    assert "confidence" not in canonicalise(**BASE).form
    unplanned = canonicalise(**{**BASE, "epsilon": None})
    with pytest.raises(ValueError, match="plan it first"):
        _ = unplanned.key
    assert unplanned.with_epsilon(Epsilon.parse("0.1")).key == key()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"period": ("٢٠١٠-01", None)}, "period.from"),  # Arabic-Indic digits
        ({"period": ("2024-01", "２０２４-12")}, "period.to"),  # full-width digits
        ({"period": ("2024-1", None)}, "period.from"),
        ({"filters": {"gender": ["ＧＭ"]}}, "filters.values"),
        ({"filters": {"province": ["ıs"]}}, "filters.values"),  # "ı".upper() == "I"
        ({"filters": {"gender": ["F\u200b"]}}, "filters.values"),
        ({"filters": {"gender": ["F\u00a0"]}}, "filters.values"),  # a no-break space
        ({"filters": {"gender": ["\u2003F"]}}, "filters.values"),  # an em space
        ({"filters": {"gender": [7]}}, "filters.values"),
        ({"filters": {"gendęr": ["F"]}}, "filters.dimension"),
        ({"group_by": ["ſtatus"]}, "group_by"),  # "ſ".upper() == "S"
        ({"group_by": ["gender"] * 11}, "group_by"),
        ({"filters": {"month": ["2024-01"] * 1001}}, "filters.values"),
    ],
)
def test_only_ascii_codes_and_digits_are_accepted(changes, field):
    with pytest.raises(MalformedQuery) as refused:
        canonicalise(**{**BASE, **changes})
    assert refused.value.details["field"] == field


@pytest.mark.parametrize("value", ["٠.١", "０.１", "0.1\u00a0x"])
def test_epsilon_is_written_in_ascii(value):
    from privacy import InvalidEpsilon

    with pytest.raises(InvalidEpsilon):
        Epsilon.parse(value)


@pytest.mark.parametrize("value", [0, 0.5, 1, 1.5, -1, float("nan"), float("inf"), True, "0.9"])
def test_confidence_outside_its_range_names_the_field(value):
    from privacy import parse_confidence

    with pytest.raises(MalformedQuery) as refused:
        parse_confidence(value)
    assert refused.value.details["field"] == "confidence"
    assert "0.5" in refused.value.details["valid"]


@pytest.mark.parametrize("value", [0, 0.5, 1e19, 1e400, float("nan"), -5, True, "5"])
def test_margin_of_error_outside_its_range_names_the_field(value):
    from privacy import parse_margin

    with pytest.raises(MalformedQuery) as refused:
        parse_margin(value)
    assert refused.value.details["field"] == "margin_of_error"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"filters": {"gender": []}}, "lists no values"),
        ({"period": ("2024-13", None)}, "YYYY-MM"),
        ({"period": ("2024-05", "2024-01")}, "not be after"),
    ],
)
def test_invalid_queries(changes, message):
    with pytest.raises(MalformedQuery, match=message):
        canonicalise(**{**BASE, **changes})


LABELS = {"gender": {"women": "F", "gender minority": "GM"}, "province": {"punjab": "PB"}}


def test_a_label_in_any_case_is_keyed_as_its_code():
    labelled = {
        "age_band": ["U18"],
        "province": ["  PUNJAB ", "sd"],
        "gender": ["Gender  MINORITY"],
    }
    form = canonicalise(**{**BASE, "filters": labelled}, labels=LABELS).form
    assert form["filters"] == {"age_band": ["U18"], "gender": ["GM"], "province": ["PB", "SD"]}
    coded = {"age_band": ["U18"], "province": ["PB", "SD"], "gender": ["gm"]}
    assert (
        canonicalise(**{**BASE, "filters": labelled}, labels=LABELS).key
        == canonicalise(**{**BASE, "filters": coded}, labels=LABELS).key
    )


@pytest.mark.parametrize(
    "value",
    [
        "Wοmen",  # a Greek omicron
        "Gender\u2003minority",  # an em space is not folded
        "Gender\u00a0minority",  # nor a no-break space
        "WOMEN\u0130",  # "İ".lower() is "i̇"
        "Women only",
    ],
)
def test_an_unknown_label_names_the_field_and_the_codes(value):
    """(A code-shaped unknown, such as "Womenfolk", is refused by the release pipeline, which
    knows the codes of every dimension: tests/api/test_rest.py.)"""
    with pytest.raises(MalformedQuery) as refused:
        canonicalise(**{**BASE, "filters": {"gender": [value]}}, labels=LABELS)
    details = refused.value.details
    assert (details["field"], details["dimension"], details["valid"]) == (
        "filters.values",
        "gender",
        ["F", "GM"],
    )
