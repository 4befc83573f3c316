import hmac

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


def test_pseudonym_is_the_first_64_bits_of_hmac_sha256_of_the_normalised_key():
    key = b"k" * 20
    a = pseudonymise(["0300-1234567"], key)[0]
    mac = hmac.digest(key, b"03001234567", "sha256")
    assert a == int.from_bytes(mac[:8], "big", signed=True)
    assert a != pseudonymise(["0300-1234567"], b"j" * 20)[0]
    assert pseudonymise(["+92 300 1234567"], key)[0] == a
    long_key = b"x" * 100  # longer than a SHA-256 block: hashed first, as RFC 2104 says
    assert pseudonymise(["a@b.pk"], long_key)[0] == int.from_bytes(
        hmac.digest(long_key, b"a@b.pk", "sha256")[:8], "big", signed=True
    )
