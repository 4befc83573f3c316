from schema.codelists import codelists, months_between, time_codes


def test_every_code_has_english_and_urdu_labels():
    lists = codelists()
    for dim in lists.dimensions.values():
        codes = dim.code_list()
        assert len(codes) == len(set(codes)), dim.name
        for c in dim.codes:
            assert c.en.strip() and c.ur.strip(), (dim.name, c.code)
            assert any("\u0600" <= ch <= "\u06ff" for ch in c.ur), (dim.name, c.code)


def test_code_lists_match_the_domain():
    lists = codelists()
    cities = lists["city"].codes
    assert sum(1 for c in cities if c.attrs.get("fia_office")) == 15
    assert len([c for c in lists["country"].code_list() if c not in ("OTHER", "UNK")]) == 25
    assert lists.multi_valued == ["vulnerable_group", "referral"]
    assert lists["vulnerable_group"].default_max_values == 2
    assert lists["referral"].default_max_values == 3
    groups = lists.complaint_group_of()
    assert sum(1 for g in groups.values() if g == "CYBER_HARASSMENT") == 10
    assert lists.fia_city_of()["LAHORE"] == "YES" and lists.fia_city_of()["SIALKOT"] == "NO"
    assert lists.fia_city_of()["UNK"] == "UNK" and lists.fia_city_of()["OTHER"] == "NO"
    assert lists.version


def test_time_codes_come_from_the_period():
    assert months_between("2023-11", "2024-02") == ["2023-11", "2023-12", "2024-01", "2024-02"]
    assert time_codes("quarter", "2023-11", "2024-04") == ["2023-Q4", "2024-Q1", "2024-Q2"]
    assert time_codes("year", "2017-01", "2024-12") == [str(y) for y in range(2017, 2025)]


def test_bits_follow_code_list_order():
    vg = codelists()["vulnerable_group"]
    assert [vg.bit(c) for c in vg.code_list()] == [1, 2, 4, 8, 16, 32]


def test_a_filter_label_names_one_code_of_its_dimension_and_no_other_code():
    """Filters take English labels (matched before codes): a label shared by two codes, or
    equal to another code of the dimension, would silently change what a filter means."""
    from privacy import fold_label

    for name, dimension in codelists().dimensions.items():
        codes = {c.code.lower(): c.code for c in dimension.codes}
        labels: dict[str, str] = {}
        for c in dimension.codes:
            folded = fold_label(c.en)
            if folded is None:
                continue
            assert folded not in labels, (name, c.en, labels.get(folded), c.code)
            assert codes.get(folded, c.code) == c.code, (name, c.en, codes.get(folded))
            labels[folded] = c.code
