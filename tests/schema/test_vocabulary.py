"""The one dimension vocabulary, and everything that reads it agreeing with it."""

import pytest

from schema import facts, vocabulary
from schema.codelists import codelists
from schema.vocabulary import check_code_lists

# The bit layout of every ``combo`` ever stored: reordering it would misread the warehouse.
STORED_LAYOUT = (
    "month",
    "complaint_type",
    "gender",
    "age_band",
    "province",
    "city",
    "channel",
    "platform",
    "country",
    "vulnerable_group",
    "referral",
)


def test_the_packed_layout_is_the_stored_one():
    assert facts.PACKED == vocabulary.STORED == STORED_LAYOUT
    assert [f.name for f in facts.layout()] == list(STORED_LAYOUT)


def test_the_kinds_of_dimension():
    assert vocabulary.TIME == ("month", "quarter", "year")
    assert vocabulary.MULTI_VALUED == ("vulnerable_group", "referral")
    assert vocabulary.ROLLUPS == {
        "quarter": "month",
        "year": "month",
        "complaint_group": "complaint_type",
        "fia_city": "city",
    }
    assert set(vocabulary.ROLLUPS.values()) <= set(vocabulary.STORED)
    assert set(vocabulary.CODED) <= set(vocabulary.STORED) - {"month", "age_band"}


def test_the_code_lists_agree_and_a_disagreement_is_refused():
    lists = codelists()  # checked as it loads
    assert list(lists.dimensions) == list(vocabulary.CODE_LISTED)
    assert lists.multi_valued == list(vocabulary.MULTI_VALUED)
    declared = {d.name: (d.multi, d.derived_from) for d in lists.dimensions.values()}
    check_code_lists(declared)
    with pytest.raises(ValueError, match="code list 'referral': multi=False"):
        check_code_lists(declared | {"referral": (False, None)})
    with pytest.raises(ValueError, match=r"code list 'fia_city'.*derived_from=None"):
        check_code_lists(declared | {"fia_city": (False, None)})
    with pytest.raises(ValueError, match="the vocabulary expects"):
        check_code_lists({k: v for k, v in declared.items() if k != "channel"})


def test_everything_else_imports_it():
    from api.gql.types import Dimension
    from api.releases import DIMENSIONS, TIME
    from etl.codes import CODED_DIMENSIONS
    from schema.models import DIMENSIONS as MODEL_DIMENSIONS
    from schema.repositories.warehouse import BASE_OF, MULTI_VALUED

    assert DIMENSIONS is MODEL_DIMENSIONS is vocabulary.NAMES
    assert TIME is vocabulary.TIME and CODED_DIMENSIONS is vocabulary.CODED
    assert BASE_OF is vocabulary.ROLLUPS and MULTI_VALUED is vocabulary.MULTI_VALUED
    # The GraphQL enum is generated: one member per name, in order, upper-case.
    assert [(m.name, m.value) for m in Dimension] == [(n.upper(), n) for n in vocabulary.NAMES]


def test_the_privacy_library_names_the_same_time_grains():
    """``privacy`` imports nothing of ours, so it keeps its own list; it must not drift."""
    from privacy import questions

    assert questions.TIME == vocabulary.TIME
