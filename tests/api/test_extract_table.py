"""The extract layout on a hand-made body: one shared year column, numbers within the year,
totals flagged in their own columns, suppressed counts blank."""

from api.extract_table import columns, table


def key(dimension, code, label=None):
    return {"dimension": dimension, "code": code, "label": label or code, "label_ur": code}


def cell(keys, count, total=False, suppressed=False):
    return {
        "key": keys,
        "count": count,
        "lower": None if suppressed else 1,
        "upper": None if suppressed else 9,
        "suppressed": suppressed,
        "reason": "below_threshold" if suppressed else None,
        "total": total,
    }


def test_every_time_dimension_shares_one_numeric_year_column():
    assert columns(["quarter", "gender", "month", "year"])[:6] == [
        *("year", "quarter", "gender", "gender_label", "gender_label_ur", "month"),
    ]


def test_rows_in_the_asked_order():
    body = {
        "group_by": ["gender", "month", "year"],
        "cells": [
            cell([key("gender", "F", "Female"), key("month", "2024-03"), key("year", "2024")], 12),
            cell(
                [key("gender", "M"), key("month", "2024-11"), key("year", "2024")],
                3,
                suppressed=True,
            ),
            cell([key("gender", "TOTAL"), key("month", "TOTAL"), key("year", "2024")], 40, True),
            cell([key("gender", "F"), key("month", "2024-03"), key("year", "TOTAL")], 12, True),
            cell([key("gender", "TOTAL"), key("month", "TOTAL"), key("year", "TOTAL")], 40, True),
        ],
    }
    laid_out = table(body, ["Year", "MONTH", "gender"])
    assert laid_out.dimensions == ["year", "month", "gender"]
    assert laid_out.columns[:5] == ["year", "month", "gender", "gender_label", "gender_label_ur"]
    got = [dict(zip(laid_out.columns, row, strict=True)) for row in laid_out.rows]
    assert [(r["year"], r["month"], r["gender"]) for r in got] == [
        (2024, 3, "F"),
        (2024, 11, "M"),
        (2024, None, "TOTAL"),
        (2024, 3, "F"),  # the month names the year the total over years is in
        (None, None, "TOTAL"),
    ]
    assert [r["total_over"] for r in got] == [
        None,
        None,
        "month gender",  # in the column order
        "year",
        "year month gender",
    ]
    assert got[1]["count"] is None and got[1]["reason"] == "below_threshold"
    assert got[0]["gender_label"] == "Female" and got[0]["count"] == 12


def test_an_order_naming_other_dimensions_keeps_the_stored_one():
    body = {"group_by": ["gender", "year"], "cells": []}
    assert (
        table(body, ["year"]).dimensions == table(body, ["x", "y"]).dimensions == body["group_by"]
    )
    assert table(body, None).columns[:4] == ["gender", "gender_label", "gender_label_ur", "year"]
