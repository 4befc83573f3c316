"""Release bodies in columns (api.columns): stored compressed, served with ?layout=columns, the
same numbers, suppression and reasons as the row form; old rows read as before."""

import orjson
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api import columns, extracts, releases, tables
from api.routes.releases import served_shape
from etl.load import load_file
from etl.synth import SynthOptions, write_export
from schema.access import Account, Release
from schema.repositories import accounts
from schema.settings import Settings
from tests.api.conftest import auth
from tests.etl.helpers import options

SETTINGS = Settings()
QUERY = {"dataset": "helpline-cases", "group_by": ["gender", "age_band"], "epsilon": 0.1}
HEAD_OF_REQUEST = ("release_id", "cached", "epsilon_charged", "budget_remaining")


@pytest.fixture
def warehouse(engine, tmp_path):
    path = tmp_path / "export.csv"
    write_export(path, SynthOptions(years=(2024, 2024), seed=4))
    load_file(path, engine, options())
    with Session(engine, expire_on_commit=False) as s, s.begin():
        account = accounts.create_account(s, name="staff", role="admin")
    return engine, account


@pytest.mark.parametrize(
    "asked",
    [
        {"group_by": ["month", "complaint_type", "gender"]},
        {"group_by": ["gender", "province"], "margins": True, "rounding": 5},
        {"group_by": ["vulnerable_group"], "filters": {"gender": ["GM"]}, "margins": True},
        {"group_by": []},
    ],
)
def test_columns_carry_exactly_the_row_form(warehouse, asked):
    engine, account = warehouse
    query = releases.CountQuery("helpline-cases", epsilon="0.2", **asked)
    with Session(engine) as s:
        p = releases.prepare(releases.resolve(s, account, query, SETTINGS), SETTINGS)
        released = releases.release(p, releases.read(s, p))
    rows, cols = tables.body(p, released), tables.in_columns(p, released)
    assert columns.to_rows(cols) == rows
    assert list(columns.to_rows(cols)) == list(rows)  # the fields in the same order
    assert columns.from_rows(rows) == cols
    assert columns.unpack(columns.pack(cols)) == cols
    assert orjson.loads(columns.served_rows(cols)) == orjson.loads(served_shape(rows))
    # Spliced from pieces, byte for byte the document of the row objects: as the encoder it
    # replaced made it, and as a stored (or cached) release of the same rows is served.
    assert columns.served_rows(cols) == _rows_by_objects(cols) == served_shape(rows)
    served = orjson.loads(columns.served_columns(cols))
    assert served["epsilon"] == 0.2 and served["cells"] == cols["cells"]
    n = len(rows["cells"])
    assert all(len(cols["cells"][f]) == n for f in columns.FIELDS)
    if n > 1000:  # the 4,608-cell table: both kinds of cell, and stored in a twentieth
        assert 0 < sum(cols["cells"]["suppressed"]) < n
        assert len(columns.pack(cols)) * 20 < len(tables.encode(rows))


def _rows_by_objects(cols: dict) -> bytes:
    """REST's row shape as it was made before ``columns.served_rows`` spliced it: a row
    object per cell (its key an ``orjson.Fragment`` of the labels encoded once), encoded by
    orjson. The reference its bytes must equal."""
    parts = [
        [
            orjson.dumps(a["dimension"]) + b":" + orjson.dumps({n: k[n] for n in columns._LABEL})
            for k in labels
        ]
        for a, labels in zip(cols["axes"], columns._key_labels(cols), strict=True)
    ]
    keys = [
        orjson.Fragment(b"{" + b",".join([p[i] for p, i in zip(parts, key, strict=True)]) + b"}")
        for key in columns._keys(cols)
    ]
    cells = cols["cells"]
    rows = [
        {"key": k, "count": c, "lower": lo, "upper": hi, "suppressed": s, "reason": r, "total": t}
        for k, c, lo, hi, s, r, t in zip(keys, *(cells[f] for f in columns.FIELDS), strict=True)
    ]
    shown = {**columns.head(cols), "cells": rows}
    shown["epsilon"] = float(shown["epsilon"])
    return orjson.dumps(shown)


def test_spliced_items_are_what_orjson_makes_of_each_value():
    """``columns._items``: every kind of value a cell field may hold (and some it may not),
    each item exactly orjson's encoding of the value alone."""
    for values in (
        [1, -2, None, 0, 10**15],
        [True, False, None],
        [0.5, 1e-7, 3.0, None, float("nan")],
        ["below_threshold", None, 'a "quoted", comma', "کل"],
        [{"a": [1, 2]}, [3, 4], "x", None],
        [],
    ):
        assert columns._items(values) == [orjson.dumps(v) for v in values]


def test_rows_spliced_for_many_layouts_equal_the_row_objects_byte_for_byte():
    """Synthetic columnar bodies over shapes a release can take: none to three axes, labels
    with quotes, commas and Urdu, totals, suppressed items, rounded counts."""
    import itertools
    import random

    rng = random.Random(7)
    head = {"dataset": "d", "dataset_version": 3, "group_by": [], "epsilon": "0.25", "x": None}
    for sizes in ((), (1,), (3,), (2, 5), (4, 1, 3)):
        axes = [
            {
                "dimension": f"dim{i}",
                "codes": [f"C{i}{j}" for j in range(n)],
                "labels": [f'label "{j}", of {i}' for j in range(n)],
                "labels_ur": [f"کل {j}" for j in range(n)],
            }
            for i, n in enumerate(sizes)
        ]
        grid = list(itertools.product(*(range(n) for n in sizes)))
        totals = [
            tuple(None if d == t else i for d, i in enumerate(k))
            for t in range(len(sizes))
            for k in grid[:2]
        ]
        keys = grid + totals
        hidden = [rng.random() < 0.3 for _ in keys]
        count = [None if h else rng.randrange(0, 500) for h in hidden]
        cols = {
            **head,
            "group_by": [a["dimension"] for a in axes],
            "layout": "columns",
            "axes": axes,
            "cells": {
                "key": {a["dimension"]: [k[i] for k in keys] for i, a in enumerate(axes)},
                "count": count,
                "lower": [None if c is None else max(c - 30, 0) for c in count],
                "upper": [None if c is None else c + 30 for c in count],
                "suppressed": hidden,
                "reason": [
                    rng.choice(["below_threshold", "complementary"]) if h else None for h in hidden
                ],
                "total": [False] * len(grid) + [True] * len(totals),
            },
        }
        assert columns.served_rows(cols) == _rows_by_objects(cols)
        assert columns.served_rows(cols) == served_shape(columns.to_rows(cols))


def test_a_new_release_is_served_as_its_repeat_byte_for_byte(api):
    """The REST body of a new release (spliced from its columns) and of the same query asked
    again (the stored release's rows), with a statistic: the same bytes after the request's
    own fields."""
    client, keys, _ = api
    headers = auth(keys["bob"])
    for body in (
        {**QUERY, "group_by": ["month", "complaint_type"], "epsilon": 0.3},
        {
            "dataset": "helpline-cases",
            "group_by": ["complaint_group", "year"],
            "epsilon": 0.2,
            "statistic": {"kind": "share", "of": "complaint_group"},
        },
    ):
        new = client.post("/v1/queries", json=body, headers=headers)
        again = client.post("/v1/queries", json=body, headers=headers)
        assert new.status_code == again.status_code == 200, new.text
        assert not new.json()["cached"] and again.json()["cached"]
        assert any(c["suppressed"] for c in new.json()["cells"]) or "statistic" in body
        table = b', "dataset":'  # the table's own fields follow the request's
        assert new.content.split(table, 1)[1] == again.content.split(table, 1)[1]
        assert new.content.index(table) > 0


def _rest_rows(shown: dict) -> list[dict]:
    """The cells of a columnar REST body in the row shape, rebuilt by a caller."""
    out = []
    cells = shown["cells"]
    for j in range(len(cells["count"])):
        key = {}
        for axis in shown["axes"]:
            i = cells["key"][axis["dimension"]][j]
            code = "TOTAL" if i is None else axis["codes"][i]
            label = "Total" if i is None else axis["labels"][i]
            label_ur = "کل" if i is None else axis["labels_ur"][i]
            key[axis["dimension"]] = {"code": code, "label": label, "label_ur": label_ur}
        out.append({"key": key, **{f: cells[f][j] for f in columns.FIELDS}})
    return out


def _same_table(in_columns: dict, in_rows: dict) -> None:
    assert _rest_rows(in_columns) == in_rows["cells"]
    other = {k: v for k, v in in_rows.items() if k not in ("cells", *HEAD_OF_REQUEST)}
    assert {k: in_columns[k] for k in other} == other
    assert in_columns["layout"] == "columns" and "layout" not in in_rows


def test_layout_columns_serves_the_same_table_new_cached_and_stored(api):
    client, keys, _ = api
    headers = auth(keys["alice"])
    new = client.post("/v1/queries", json=QUERY, headers=headers, params={"layout": "columns"})
    assert new.status_code == 200, new.text
    in_columns = new.json()
    assert not in_columns["cached"] and in_columns["epsilon_charged"] == 0.1
    cached = client.post("/v1/queries", json=QUERY, headers=headers).json()
    assert cached["cached"] and cached["release_id"] == in_columns["release_id"]
    _same_table(in_columns, cached)
    assert any(cached_cell["suppressed"] for cached_cell in cached["cells"])
    path = f"/v1/releases/{in_columns['release_id']}"
    stored = client.get(path, headers=headers, params={"layout": "columns"}).json()
    assert {k: v for k, v in stored.items() if k not in HEAD_OF_REQUEST} == {
        k: v for k, v in in_columns.items() if k not in HEAD_OF_REQUEST
    }
    again = client.post("/v1/queries", json=QUERY, headers=headers, params={"layout": "columns"})
    assert again.json()["cells"] == in_columns["cells"] and again.json()["cached"]


def test_layout_is_of_json_only_and_strictly_parsed(api):
    client, keys, _ = api
    headers = auth(keys["alice"])
    both = {"layout": "columns", "format": "csv"}
    r = client.post("/v1/queries", json=QUERY, headers=headers, params=both)
    assert r.status_code == 422 and r.json()["error"]["field"] == "layout"
    r = client.post("/v1/queries", json=QUERY, headers=headers, params={"layout": "diagonal"})
    assert r.status_code == 422 and "layout" in r.text and "columns" in r.text
    with Session(api[2]) as s:  # nothing was charged or stored
        assert s.scalars(select(Release)).all() == []


def test_a_new_release_is_stored_packed_and_an_old_text_body_reads_as_before(api):
    client, keys, engine = api
    headers = auth(keys["alice"])
    made = client.post("/v1/queries", json=QUERY, headers=headers).json()
    path = f"/v1/releases/{made['release_id']}"
    shown = [client.get(path, headers=headers, params=p) for p in ({}, {"format": "csv"})]
    in_columns = client.get(path, headers=headers, params={"layout": "columns"}).json()
    with Session(engine) as s, s.begin():
        stored = s.scalars(select(Release).where(Release.public_id == made["release_id"])).one()
        assert stored.body == "" and stored.packed is not None
        text = orjson.dumps(columns.to_rows(columns.unpack(stored.packed))).decode()
        assert len(stored.packed) * 5 < len(text)
        s.execute(  # as a release stored before columns
            update(Release).where(Release.id == stored.id).values(body=text, packed=None)
        )
    extracts._cache.items.clear()  # another worker: nothing of this release kept
    extracts._cache.size = 0
    again = [client.get(path, headers=headers, params=p) for p in ({}, {"format": "csv"})]
    assert again[0].json() == shown[0].json() and again[1].content == shown[1].content
    assert again[0].json()["cells"] == made["cells"]
    columns_again = client.get(path, headers=headers, params={"layout": "columns"}).json()
    assert columns_again == in_columns
    with Session(engine) as s:  # and the account's first release is still the one row
        assert s.scalars(select(Account).where(Account.name == "alice")).one() is not None
        assert len(s.scalars(select(Release)).all()) == 1
