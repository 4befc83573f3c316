"""Shares and changes of a direct release's table (``privacy.statistics``): over 2,000
simulated releases with OpenDP noise, their 95% intervals hold the truth 93 to 97% of the
time; a share's total is suppressed rather than give a hidden count away."""

import numpy as np
import pytest

from privacy import Axis, Epsilon, Policy, plan_release, ratios, release, statistics

RELEASES = 2_000
GENDER = Axis("gender", ("F", "M", "GM", "U"), frozenset({"GM"}))
YEAR = Axis("year", ("2023", "2024"))
# NCII by gender and year, every count well above its threshold (a share is shown, so its
# coverage is not conditioned on what suppression left): women's share about 70%.
TRUTH = np.array([[300, 357], [50, 59], [45, 48], [40, 42]])


def _holds(lo, hi, truth):
    return (lo is None or lo <= truth) and (hi is None or truth <= hi)


@pytest.mark.slow
def test_shares_and_changes_of_direct_releases_cover_93_to_97_percent():
    plan = plan_release(
        sensitivity=2,
        cells=8,
        epsilon=Epsilon.parse("0.3"),
        max_epsilon=Epsilon.parse("10"),
        max_cells=100,
    )
    policy = Policy(threshold=10, sensitive_threshold=20)
    hits = {"share": 0, "cases": 0, "percent": 0}
    asked = {"share": 0, "cases": 0, "percent": 0}
    share_truth = TRUTH[0] / TRUTH.sum(axis=0)
    for _ in range(RELEASES):
        r = release(plan, TRUTH.reshape(-1).tolist(), [GENDER, YEAR], policy)
        hidden = [c.suppressed for c in r.cells()]
        table = statistics.direct_table([GENDER, YEAR], r.noisy, plan.scale, hidden, policy)
        for f in statistics.shares(table, "gender", 0.95)[:2]:  # F in 2023 and in 2024
            if not f.suppressed:
                asked["share"] += 1
                hits["share"] += _holds(f.lower, f.upper, share_truth[int(f.key[1] == "2024")])
        women = statistics.changes(table, "year", [0], [1], 0.95)[0]
        asked["cases"] += 1
        hits["cases"] += _holds(women.lower, women.upper, 357 - 300)
        assert women.percent is not None
        asked["percent"] += 1
        hits["percent"] += _holds(women.percent.lower, women.percent.upper, 100 * (357 / 300 - 1))
    for name, n in hits.items():
        assert asked[name] >= RELEASES, name
        assert 0.93 <= n / asked[name] <= 0.97, (name, n / asked[name])


def test_a_total_over_one_hidden_count_is_suppressed():
    # Cells row-major over (gender, year). GM 2023 hidden alone on the 2023 line: a shown
    # total of 2023 would give it back.
    noisy = [300, 357, 50, 59, 3, 30, 25, 28]
    policy = Policy(threshold=10, sensitive_threshold=20)
    hidden = [False, False, False, False, True, False, False, False]
    table = statistics.direct_table([GENDER, YEAR], noisy, 10.0, hidden, policy)
    by_key = {f.key: f for f in statistics.shares(table, "gender", 0.95)}
    assert by_key[("GM", "2023")].reason == "count_suppressed"
    assert by_key[("F", "2023")].reason == "total_suppressed"
    assert by_key[("F", "2024")].suppressed is False
    assert by_key[("F", "2024")].value == pytest.approx(357 / (357 + 59 + 30 + 28))
    # GM and U hidden in 2024: its total gives only their sum, so it is shown; U's total over
    # the years would give U 2024 back (U 2023 is shown), and then the grand total too.
    hidden[5] = hidden[7] = True
    noisy[5] = noisy[7] = 4
    table = statistics.direct_table([GENDER, YEAR], noisy, 10.0, hidden, policy)
    by_key = {f.key: f for f in statistics.shares(table, "gender", 0.95)}
    assert by_key[("F", "2024")].suppressed is False
    rates = statistics.rates(table, "year", 24, 0.95)
    assert [f.key for f in rates] == [("F",), ("M",), ("GM",), ("U",)]
    assert rates[0].value == pytest.approx((300 + 357) / 24)
    assert not rates[1].suppressed  # GM: its total (7) is below its threshold; U: exposing
    assert rates[2].reason == rates[3].reason == "total_suppressed"


def test_a_table_of_linears_gives_the_direct_tables_statistics():
    """A summary's derived table gives each cell a Linear; the statistics are the same code."""
    noisy = TRUTH.reshape(-1).tolist()
    policy = Policy(threshold=10, sensitive_threshold=20)
    direct = statistics.direct_table([GENDER, YEAR], noisy, 5.0, [False] * 8, policy)
    one_hot = [ratios.direct(noisy, 5.0, np.eye(8)[i].tolist(), "t") for i in range(8)]
    linears = statistics.cell_table(["gender", "year"], [GENDER.codes, YEAR.codes], one_hot)
    pairs = zip(
        statistics.shares(direct, "gender", 0.9),
        statistics.shares(linears, "gender", 0.9),
        strict=True,
    )
    for a, b in pairs:
        assert (a.key, a.suppressed) == (b.key, b.suppressed)
        assert a.value == pytest.approx(b.value) and a.lower == pytest.approx(b.lower)
    (a,), (b,) = (
        [f for f in statistics.changes(t, "year", [0], [1], 0.9) if f.key == ("F",)]
        for t in (direct, linears)
    )
    assert (a.value, a.lower, a.upper) == pytest.approx((b.value, b.lower, b.upper))
    assert a.percent is not None and b.percent is not None
    assert a.percent.upper == pytest.approx(b.percent.upper)
