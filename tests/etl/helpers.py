"""Small raw exports written by hand for the ETL tests."""

from __future__ import annotations

import csv
from itertools import count
from pathlib import Path

from etl.coverage import Coverage
from etl.load import LoadOptions
from etl.synth import COLUMNS

KEY = b"test-pseudonym-key-0123456789"
# The synthetic exports the tests load are of 2024; production callers declare their own.
COVERS_2024 = Coverage("2024-01", "2024-12")
_refs = count(1)
HEADER = list(COLUMNS)  # the synthetic export's columns, in its order


def case(**fields: str) -> dict[str, str]:
    """One raw record; each call gets a case_ref of its own unless one is given."""
    row = {
        "case_ref": f"DSH-{next(_refs)}",
        "received_on": "2024-03-05",
        "contact_key": "0300-1111111",
        "complainant_name": "Sana Malik",
        "phone": "0300-1111111",
        "email": "sana@x.pk",
        "cnic": "35202-1234567-1",
        "address": "House 1, Street 2, Lahore",
        "channel": "PHONE",
        "complaint_type": "BLACKMAIL",
        "platform": "WHATSAPP",
        "gender": "F",
        "age": "24",
        "city": "Lahore",
        "province": "PB",
        "country": "PK",
        "vulnerable_groups": "",
        "referrals": "LEGAL_AID",
        "consent_to_share": "yes",
        "case_notes": "notes, here",
        "officer": "Officer A",
    }
    row.update(fields)
    return row


def write_export(
    path: Path,
    rows: list[dict[str, str]],
    header: list[str] | None = None,
    encoding: str = "utf-8",
    newline: str = "\n",
) -> Path:
    header = header or HEADER
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, lineterminator=newline)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(h.lower(), "") for h in header])
    return path


def options(**overrides: object) -> LoadOptions:
    base: dict[str, object] = {
        "dataset": "helpline-cases",
        "pseudonym_key": KEY,
        "covers": COVERS_2024,
    }
    base.update(overrides)
    return LoadOptions(**base)  # type: ignore[arg-type]
