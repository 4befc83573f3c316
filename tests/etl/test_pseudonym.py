from etl.pseudonym import normalise_contact, pseudonymise


def test_spellings_of_one_phone_are_one_person():
    spellings = [
        "03001234567",
        "0300-1234567",
        "+92 300 1234567",
        "0092 300 1234567",
        "923001234567",
    ]
    assert {normalise_contact(s) for s in spellings} == {"03001234567"}


def test_emails_fold_case_and_space():
    assert normalise_contact(" Ali.Khan@Gmail.com ") == normalise_contact("ali.khan@gmail.com")


def test_pseudonym_depends_on_the_key_and_hides_the_value():
    a = pseudonymise(["0300-1234567"], b"k" * 20)[0]
    b = pseudonymise(["0300-1234567"], b"j" * 20)[0]
    assert a != b and len(a) == 64
    assert "1234567" not in a
    assert pseudonymise(["+92 300 1234567"], b"k" * 20)[0] == a
