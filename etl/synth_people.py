"""People behind the synthetic cases: who filed which case, and their fake identifying data.

About 85% of people file one complaint, 12% two or three, 3% four or more and a handful ten or
more (DOMAIN.md section 5). Each person's first two cases are the calibrated kept cases; any
further case is dated after them, so the contribution bound (2, earliest first) cuts it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import pandas as pd

from etl import calibration as cal

WOMEN = [
    "Ayesha",
    "Fatima",
    "Zainab",
    "Maryam",
    "Hira",
    "Sana",
    "Amna",
    "Iqra",
    "Mahnoor",
    "Rabia",
    "Nimra",
    "Sidra",
    "Kiran",
    "Saba",
    "Noor",
    "Areeba",
    "Laiba",
    "Mehwish",
]
MEN = [
    "Ali",
    "Ahmed",
    "Hamza",
    "Usman",
    "Bilal",
    "Hassan",
    "Imran",
    "Faisal",
    "Zeeshan",
    "Kamran",
    "Asad",
    "Danish",
    "Waqas",
    "Shahzaib",
    "Junaid",
    "Adnan",
    "Rizwan",
    "Saad",
]
SURNAMES = [
    "Khan",
    "Malik",
    "Qureshi",
    "Sheikh",
    "Butt",
    "Chaudhry",
    "Raza",
    "Siddiqui",
    "Baloch",
    "Mughal",
    "Abbasi",
    "Javed",
    "Hussain",
    "Shah",
    "Mirza",
    "Akhtar",
    "Jutt",
]
AREAS = [
    "G-9/1",
    "F-7/2",
    "Gulberg III",
    "DHA Phase 5",
    "Model Town",
    "Saddar",
    "Gulshan-e-Iqbal",
    "Hayatabad",
    "Satellite Town",
    "Johar Town",
    "Cantt",
    "Clifton Block 4",
]
URDU_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
DOMAINS = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com"]
OFFICERS = [
    "Officer Sadia Anwar",
    "Officer Haris Latif",
    "Officer Nadia Jamil",
    "Officer Tariq Mehmood",
    "Officer Rubina Aslam",
    "Officer Kashif Nadeem",
]
NOTES = [
    "Caller says {name} is being blackmailed with edited photos, asked for legal advice.",
    "متاثرہ نے بتایا کہ {name} کو واٹس ایپ پر دھمکیاں دی جا رہی ہیں",
    "Account recovered after guidance; {name} will report to FIA, follow up next week.",
    'Complainant ({name}) shared screenshots, "urgent", referred to psychosocial support.\n'
    "Second line of notes.",
    "Fake profile reported to platform, awaiting response; contact {phone} after 5pm.",
]


@dataclass
class Person:
    pid: int
    name: str
    phone: str
    email: str
    cnic: str
    address: str
    by_phone: bool

    def contact(self, rng: random.Random) -> str:
        """The contact key, spelled the way this case's officer happened to write it."""
        if not self.by_phone:
            return self.email if rng.random() < 0.7 else f" {self.email.upper()} "
        r = rng.random()
        if r < 0.6:
            return self.phone
        digits = self.phone[1:]
        if r < 0.8:
            return f"+92 {digits[:3]} {digits[3:]}"
        if r < 0.9:
            return f"{self.phone[:4]}-{self.phone[4:]}"
        if r < 0.95:
            return self.phone.translate(URDU_DIGITS)  # typed on an Urdu keyboard
        return f"tel:+92{digits}"

    def note(self, rng: random.Random) -> str:
        return NOTES[rng.randrange(len(NOTES))].format(name=self.name, phone=self.phone)

    def officer(self, rng: random.Random) -> str:
        return OFFICERS[rng.randrange(len(OFFICERS))]


def _mobile(draw: int, pid: int) -> str:
    """A valid Pakistani mobile number (030x, 031x, 032x, 034x): libphonenumber would take an
    invalid one for an opaque id, and its spellings for different people."""
    return f"03{(0, 1, 2, 4)[draw // 10]}{draw % 10}{pid:07d}"


def _person(rng: random.Random, pid: int, gender: str) -> Person:
    firsts = WOMEN if gender == "F" else MEN if gender == "M" else WOMEN + MEN
    first = firsts[rng.randrange(len(firsts))]
    last = SURNAMES[rng.randrange(len(SURNAMES))]
    return Person(
        pid=pid,
        name=f"{first} {last}",
        phone=_mobile(rng.randrange(40), pid),
        email=f"{first.lower()}.{last.lower()}{pid}@{DOMAINS[rng.randrange(len(DOMAINS))]}",
        cnic=f"{rng.randrange(11000, 61999)}-{pid:07d}-{rng.randrange(10)}",
        address=f"House {rng.randrange(1, 900)}, Street {rng.randrange(1, 60)}, "
        f"{AREAS[rng.randrange(len(AREAS))]}",
        by_phone=bool(rng.random() < 0.75),
    )


def _extra_counts(rng: np.random.Generator, pairs: int) -> np.ndarray:
    """Further cases per two-case person: 2-3 cases (80%), 4-9 (20%), and a handful 10+."""
    extra = np.zeros(pairs, dtype=int)
    four_plus = rng.random(pairs) < cal.SHARE_FOUR_OR_MORE / (1 - cal.SHARE_ONE_CASE)
    three = ~four_plus & (rng.random(pairs) < 0.5)
    extra[three] = 1
    extra[four_plus] = rng.integers(2, 8, size=int(four_plus.sum()))
    handful = rng.choice(pairs, size=min(pairs, max(1, pairs // 500)), replace=False)
    extra[handful] = rng.integers(8, 13, size=len(handful))
    return extra


def make_people(
    rng: np.random.Generator, pr: random.Random, kept: pd.DataFrame, year: int, first_pid: int
) -> tuple[dict[int, Person], pd.DataFrame]:
    n = len(kept)
    share_multi = 1 - cal.SHARE_ONE_CASE
    n_pairs = round(share_multi * n / (1 + share_multi))
    person = np.full(n, -1, dtype=int)
    chosen = rng.choice(n, size=2 * n_pairs, replace=False)
    pid = first_pid
    pairs: list[tuple[int, int]] = []
    for _, group in pd.Series(chosen).groupby(kept["gender"].to_numpy()[chosen]):
        idx = group.to_numpy()
        for a, b in zip(idx[0::2], idx[1::2], strict=False):
            person[a] = person[b] = pid
            pairs.append((a, b))
            pid += 1
    for i in np.flatnonzero(person < 0):
        person[i] = pid
        pid += 1
    ids, first_case = np.unique(person, return_index=True)
    genders = kept["gender"].to_numpy()
    people = {
        int(p): _person(pr, int(p), str(genders[i])) for p, i in zip(ids, first_case, strict=True)
    }
    cases = kept.assign(person=person)
    if not pairs:
        return people, cases
    a, b = np.array(pairs).T
    received = kept["received"].to_numpy()
    later = np.maximum(received[a], received[b])
    room = (np.datetime64(f"{year}-12-31") - later).astype("timedelta64[D]").astype(int)
    counts = np.where(room >= 1, _extra_counts(rng, len(pairs)), 0)
    owner = np.repeat(a, counts)
    if len(owner):
        extras = kept.iloc[rng.integers(n, size=len(owner))].reset_index(drop=True)
        same = ["gender", "age_band", "province", "city", "country", "vulnerable"]
        extras[same] = kept.iloc[owner][same].to_numpy()
        days = rng.integers(1, np.repeat(room, counts) + 1)
        extras["received"] = np.repeat(later, counts) + days.astype("timedelta64[D]")
        extras["person"] = person[owner]
        cases = pd.concat([cases, extras], ignore_index=True)
    return people, cases
