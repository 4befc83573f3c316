"""GraphQL end to end: the contract, spending rules, limits, errors, the exported SDL."""

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.gql.schema import schema
from schema.access import LedgerEntry
from tests.api.conftest import auth

COUNT = """
mutation Count($q: CountQueryInput!) {
  countCases(query: $q) {
    releaseId cached epsilonCharged budgetRemaining dataset datasetVersion noiseScale
    marginOfError confidence threshold sensitiveThreshold
    cells { key { dimension code label labelUr } count suppressed reason lower upper }
  }
}
"""
QUERY = {"dataset": "helpline-cases", "groupBy": ["GENDER", "YEAR"], "epsilon": 0.1}


def gql(client, key, query, variables=None):
    return client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=auth(key)
    )


def _spent(engine):
    with Session(engine) as s:
        return s.scalar(select(func.coalesce(func.sum(LedgerEntry.epsilon_micro), 0)))


def test_count_cases_and_the_same_query_over_rest(api):
    client, keys, engine = api
    r = gql(client, keys["alice"], COUNT, {"q": QUERY})
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    release = r.json()["data"]["countCases"]
    assert (release["cached"], release["epsilonCharged"], release["budgetRemaining"]) == (
        False,
        0.1,
        0.15,
    )
    assert release["cells"][0]["key"][0] == {
        "dimension": "gender",
        "code": "F",
        "label": "Women",
        "labelUr": "خواتین",
    }
    rest = client.post(
        "/v1/queries",
        json={"dataset": "helpline-cases", "group_by": ["year", "gender"], "epsilon": 0.1},
        headers=auth(keys["bob"]),
    ).json()
    assert rest["cached"] is True and rest["release_id"] == release["releaseId"]
    assert [c["count"] for c in rest["cells"] if not c["total"]] == [
        c["count"] for c in release["cells"]
    ]
    listed = gql(
        client, keys["alice"], "{ releases { items { releaseId epsilon datasetVersion } next } }"
    )
    assert listed.json()["data"]["releases"] == {
        "items": [{"releaseId": release["releaseId"], "epsilon": 0.1, "datasetVersion": 1}],
        "next": None,
    }
    assert _spent(engine) == 100_000


def test_estimate_and_catalogue_spend_nothing(api):
    client, keys, engine = api
    r = gql(
        client,
        keys["alice"],
        """
      query ($q: CountQueryInput!) {
        estimate(query: $q) { epsilon marginOfError cells cached }
        me { role } datasets { items { slug budgetRemaining versions { number } } next }
        dimensions { name codes { code sensitive } }
      }""",
        {"q": {**QUERY, "marginOfError": 30, "epsilon": None}},
    )
    data = r.json()["data"]
    assert data["estimate"]["marginOfError"] <= 30 and data["estimate"]["cells"] == 4
    assert data["me"] == {"role": "researcher"}
    assert data["datasets"] == {
        "items": [{"slug": "helpline-cases", "budgetRemaining": 0.25, "versions": [{"number": 1}]}],
        "next": None,
    }
    gender = next(d for d in data["dimensions"] if d["name"] == "GENDER")
    assert {"code": "GM", "sensitive": True} in gender["codes"]
    assert _spent(engine) == 0


def test_spending_rules(api):
    client, keys, engine = api
    over_get = client.get(
        "/graphql",
        params={
            "query": "mutation { countCases(query: {dataset: "
            '"helpline-cases", groupBy: [GENDER], epsilon: 0.1}) '
            "{ releaseId } }"
        },
        headers=auth(keys["alice"]),
    )
    assert over_get.status_code in (400, 405)
    two = gql(
        client,
        keys["alice"],
        """
      mutation { a: countCases(query: {dataset: "helpline-cases", groupBy: [GENDER], epsilon: 0.1})
                 { releaseId }
                 b: countCases(query: {dataset: "helpline-cases", groupBy: [YEAR], epsilon: 0.1})
                 { releaseId } }""",
    )
    assert two.json()["data"] is None
    assert {e["extensions"]["code"] for e in two.json()["errors"]} == {"invalid_query"}
    assert _spent(engine) == 0
    one_call = 'countCases(query: {dataset: "helpline-cases", groupBy: [GENDER], epsilon: 0.1})'
    for hidden in (
        f"mutation {{ ...F }} fragment F on Mutation {{ a: {one_call} {{ releaseId }} "
        f"b: {one_call} {{ cached }} }}",
        f"mutation {{ a: {one_call} {{ releaseId }} ... on Mutation {{ b: {one_call} "
        "{ cached } } }",
        f"mutation {{ ...F ...G }} fragment F on Mutation {{ a: {one_call} {{ releaseId }} }} "
        f"fragment G on Mutation {{ ... on Mutation {{ b: {one_call} {{ cached }} }} }}",
    ):
        through = gql(client, keys["alice"], hidden).json()
        assert through["data"] is None, hidden
        assert {e["extensions"]["code"] for e in through["errors"]} == {"invalid_query"}
    assert _spent(engine) == 0
    for group_by in (["GENDER"], ["CHANNEL"]):
        gql(client, keys["alice"], COUNT, {"q": {**QUERY, "groupBy": group_by}})
    refused = gql(client, keys["alice"], COUNT, {"q": {**QUERY, "groupBy": ["PLATFORM"]}})
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "account_budget_exceeded"
    assert (error["extensions"]["remaining"], error["extensions"]["asked"]) == (0.05, 0.1)
    assert _spent(engine) == 200_000


def test_errors_and_limits(api):
    client, keys, _ = api
    assert client.post("/graphql", json={"query": "{ me { id } }"}).status_code == 401
    missing = gql(client, keys["alice"], COUNT, {"q": {**QUERY, "dataset": "nope"}})
    assert missing.json()["errors"][0]["extensions"]["code"] == "not_found"
    bad_type = gql(client, keys["alice"], COUNT, {"q": {**QUERY, "groupBy": ["RELIGION"]}})
    assert "RELIGION" in bad_type.json()["errors"][0]["message"]
    aliases = "{ " + " ".join(f"m{i}: me {{ id }}" for i in range(6)) + " }"
    too_many = gql(client, keys["alice"], aliases)
    assert "aliases" in too_many.json()["errors"][0]["message"]


def test_a_value_outside_an_enum_is_refused_with_the_valid_values(api):
    from schema.vocabulary import NAMES

    client, keys, engine = api
    dimensions = [name.upper() for name in NAMES]
    literal = 'mutation {{ countCases(query: {{dataset: "helpline-cases", groupBy: [{}], '
    literal += "epsilon: 0.1{}}}) {{ releaseId }} }}"
    asked = {
        "variable": gql(client, keys["alice"], COUNT, {"q": {**QUERY, "groupBy": ["GENDRE"]}}),
        "literal": gql(client, keys["alice"], literal.format("GENDRE", "")),
        "string": gql(client, keys["alice"], literal.format('"GENDER"', "")),
        "source": gql(client, keys["alice"], literal.format("GENDER", ", source: SUMARY")),
    }
    for how, r in asked.items():
        assert r.status_code == 200 and r.json()["data"] is None, how
        (error,) = r.json()["errors"]
        valid = ["SUMMARY", "DIRECT"] if how == "source" else dimensions
        assert error["extensions"] == {"code": "invalid_request", "valid": valid}, how
        assert error["message"].endswith(f"Valid values: {', '.join(valid)}."), how
    assert (
        "'GENDRE' does not exist in 'Dimension' enum"
        in asked["variable"].json()["errors"][0]["message"]
    )
    assert _spent(engine) == 0


def test_exported_sdl_is_current():
    exported = Path(__file__).resolve().parents[2] / "docs" / "schema.graphql"
    assert exported.read_text("utf-8").strip() == schema.as_str().strip(), (
        'docs/schema.graphql is stale: python -c "from api.gql.schema import schema; '
        'print(schema.as_str())" > docs/schema.graphql'
    )


def test_unexpected_errors_are_masked_and_ours_keep_their_code():
    from graphql import GraphQLError

    from api.errors import BudgetExhausted
    from api.gql.execution import TypedErrors

    boom = GraphQLError(
        "db password is hunter2",
        path=["countCases"],
        original_error=RuntimeError("db password is hunter2"),
    )
    ours = BudgetExhausted("no budget left", limit="account_budget")
    ours.code = "account_budget_exceeded"
    typed = GraphQLError("no budget left", path=["countCases"], original_error=ours)
    request = GraphQLError("Syntax Error: Unexpected Name 'x'.")
    masked, kept, syntax = TypedErrors()._process_errors([boom, typed, request])
    assert masked.message == "Unexpected error." and "hunter2" not in str(masked.formatted)
    assert kept.extensions == {
        "code": "account_budget_exceeded",
        "message": "no budget left",
        "limit": "account_budget",
    }
    assert syntax.message.startswith("Syntax Error")


def test_refusals_are_not_logged_as_errors_and_the_unexpected_still_is(caplog):
    from graphql import GraphQLError

    from api.errors import BudgetExhausted

    ours = GraphQLError("no budget left", path=["countCases"], original_error=BudgetExhausted("x"))
    boom = GraphQLError("boom", path=["countCases"], original_error=RuntimeError("boom"))
    with caplog.at_level("ERROR", logger="strawberry.execution"):
        schema.process_errors([ours])
        assert caplog.records == []
        schema.process_errors([ours, boom])
    assert [r.getMessage() for r in caplog.records] == ["boom"]


def test_every_type_field_and_argument_is_described():
    from graphql import GraphQLInputObjectType, GraphQLObjectType

    missing = []
    for name, kind in schema._schema.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Float", "Boolean", "ID"):
            continue
        if not kind.description:
            missing.append(name)
        if isinstance(kind, GraphQLObjectType | GraphQLInputObjectType):
            for field_name, field in kind.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")
    assert missing == []
