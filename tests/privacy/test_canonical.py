import pytest

from privacy import Epsilon, InvalidQuery, canonicalise

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
    assert key(confidence="0.950") == k


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
        key(confidence=0.99),
        key(epsilon=None, margin_of_error=10),
        key(options={"margins": True}),
        key(options={"rounding": 5}),
    ]
    assert len({k, *changed}) == len(changed) + 1


def test_margin_spellings_are_one_query():
    assert key(epsilon=None, margin_of_error=5) == key(epsilon=None, margin_of_error="5.0")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"filters": {"gender": []}}, "lists no values"),
        ({"period": ("2024-13", None)}, "YYYY-MM"),
        ({"period": ("2024-05", "2024-01")}, "not be after"),
        ({"epsilon": None}, "exactly one"),
    ],
)
def test_invalid_queries(changes, message):
    with pytest.raises(InvalidQuery, match=message):
        canonicalise(**{**BASE, **changes})
