"""Figures the synthetic export is calibrated to (DOMAIN.md sections 3 to 5).

Counts are cases after the contribution bound; the generator adds the cases the bound cuts.
"""

from __future__ import annotations

YEAR_TOTALS = {
    2017: 1300,
    2018: 619,
    2019: 2023,
    2020: 3298,
    2021: 4441,
    2022: 2695,
    2023: 2473,
    2024: 3171,
}

MONTHS_2024 = [236, 228, 312, 262, 386, 270, 354, 248, 232, 226, 220, 197]

# complaint type -> (women, men, gender minority or undisclosed), 2024
TYPE_BY_GENDER_2024 = {
    "BLACKMAIL": (360, 256, 4),
    "NCII": (357, 59, 4),
    "IBA_OTHER": (211, 46, 3),
    "IMPERSONATION": (215, 160, 5),
    "HACKING": (170, 246, 4),
    "DEFAMATION": (85, 73, 2),
    "THREATS": (80, 57, 3),
    "DOXXING": (90, 58, 2),
    "STALKING": (95, 24, 1),
    "HATE_DISINFO": (36, 31, 4),
    "FIN_FRAUD": (60, 239, 1),
    "NON_CYBER": (13, 116, 1),
}
GENDER_MINORITY_2024 = 18  # of the 34 in the third column; the other 16 are undisclosed

AGE_2024 = {"U18": 124, "18_30": 1774, "31_45": 640, "46_60": 170, "60P": 33, "UNK": 430}
PROVINCE_2024 = {
    "PB": 2277,
    "SD": 301,
    "KP": 150,
    "IS": 140,
    "BA": 40,
    "JK": 35,
    "GB": 12,
    "XX": 60,
    "UNK": 156,
}
CHANNEL_2024 = {"PHONE": 1750, "EMAIL": 760, "SOCIAL": 600, "OTHER": 61}
PLATFORM_2024 = {
    "WHATSAPP": 900,
    "FACEBOOK": 850,
    "INSTAGRAM": 520,
    "TIKTOK": 330,
    "X": 80,
    "YOUTUBE": 60,
    "SNAPCHAT": 40,
    "TELEGRAM": 30,
    "OTHER_ONLINE": 200,
    "NONE_UNK": 161,
}
# MINOR follows age U18 and GENDER_MINORITY follows gender GM; these are the others.
VULNERABLE_2024 = {"JOURNALIST": 121, "HRD": 44, "RELIGIOUS_MINORITY": 15, "ETHNIC_MINORITY": 9}
REFERRAL_SHARES = {
    "PLATFORM": 0.35,
    "LEGAL_AID": 0.40,
    "FIA": 0.25,
    "PSYCHOSOCIAL": 0.10,
    "OTHER_ORG": 0.05,
}
NO_REFERRAL_SHARE = 0.15
# Of cyber-harassment cases: city known for 1,719 of 2,741, of which 619 in FIA cities (36%).
CITY_KNOWN_SHARE = 1719 / 2741
FIA_SHARE_OF_KNOWN = 619 / 1719

# Per-year departures from the 2024 shapes (published where DOMAIN.md marks them P).
WOMEN_SHARE = {2017: 0.67, 2018: 0.59, 2019: 0.58, 2020: 0.66, 2021: 0.68, 2022: 0.586, 2023: 0.585}
PUNJAB_SHARE = {2017: 0.50, 2018: 0.57, 2020: 0.57}
PROVINCE_FIXED = {2022: {"PB": 1712, "SD": 354, "KP": 144}}
TYPE_SHARES = {2020: {"BLACKMAIL": 0.33, "HACKING": 0.23}}
TYPE_FIXED = {2021: {"BLACKMAIL": 893, "NCII": 727}}
CYBER_HARASSMENT_TOTAL = {2022: 2273}
MONTH_FIXED = {2020: {7: 697}}
BUSIEST_MONTH = {2021: 7, 2022: 11, 2023: 2}
U18_FIXED = {2023: 82}  # 2024's 124 was a 51% rise

# Repeat complainants (section 5): shares of people.
SHARE_ONE_CASE = 0.85
SHARE_TWO_OR_THREE = 0.12
SHARE_FOUR_OR_MORE = 0.03
