"""What an extract means, in English and Urdu: the "About this table" sheet of an .xlsx and the
text file beside a zipped CSV.

Built from the release's public metadata only (``extracts.metadata`` and the dataset version's
declared coverage): the title, dataset and version, period, ε, confidence, thresholds and
rounding. Never from a cell, so two warehouses that differ by one person give the same text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TITLE = ("About this table", "اس جدول کے بارے میں")


@dataclass(frozen=True)
class Fact:
    en: str
    value: str
    ur: str


@dataclass(frozen=True)
class Note:
    en_heading: str
    en: str
    ur_heading: str
    ur: str


def period(meta: dict[str, Any], coverage: tuple[str, str]) -> str:
    """The months the table covers: the query's period, or the version's declared coverage."""
    asked = meta["query"].get("period") or {}
    return f"{asked.get('from') or coverage[0]} to {asked.get('to') or coverage[1]}"


def facts(meta: dict[str, Any], coverage: tuple[str, str]) -> list[Fact]:
    rounding = meta["rounding"] or 1
    return [
        Fact("Title", meta["title"] or "", "عنوان"),
        Fact("Dataset", f"{meta['dataset_title']} ({meta['dataset']})", "ڈیٹا سیٹ"),
        Fact("Dataset version", str(meta["dataset_version"]), "ڈیٹا سیٹ کا ورژن"),
        Fact("Period", period(meta, coverage), "مدت"),
        Fact("Privacy loss (ε)", str(meta["epsilon"]), "پرائیویسی کا خرچ (ε)"),
        Fact("Confidence", f"{meta['confidence']:.0%}", "اعتماد کی سطح"),
        Fact("Rounded to a multiple of", str(rounding), "جس عدد کے گُنا تک گول کیا گیا"),
        Fact("Release", meta["release_id"], "ریلیز"),
    ]


def notes(meta: dict[str, Any]) -> list[Note]:
    confidence = f"{meta['confidence']:.0%}"
    low, sensitive = meta["threshold"], meta["sensitive_threshold"]
    base = meta["rounding"] or 1
    interval = Note(
        "What the interval means",
        "Random noise was added to every count to protect the people in the data. With "
        f"{confidence} confidence, the count before noise lies between the lower and upper "
        "bound shown beside it.",
        "نچلی اور بالائی حد کا مطلب",
        "ڈیٹا میں شامل افراد کی حفاظت کے لیے ہر گنتی میں بے ترتیب شور (noise) شامل کیا گیا ہے۔ "
        f"{confidence} اعتماد کے ساتھ، شور سے پہلے کی اصل گنتی اپنے ساتھ دکھائی گئی نچلی اور "
        "بالائی حد کے درمیان ہے۔",
    )
    blank = Note(
        "Why a cell is blank",
        f"A blank count was withheld: its noisy count was below {low} ({sensitive} for "
        "sensitive categories), or it was hidden so that the totals cannot reveal another "
        "withheld count. The reason column says which. A blank is not a zero.",
        "کوئی خانہ خالی کیوں ہے",
        f"خالی خانے کی گنتی روک لی گئی ہے: یا تو اس کی شور والی گنتی {low} سے کم تھی (حساس "
        f"زمروں کے لیے {sensitive})، یا اسے اس لیے چھپایا گیا کہ میزان سے کوئی دوسری روکی گئی "
        "گنتی معلوم نہ ہو سکے۔ وجہ reason کے کالم میں درج ہے۔ خالی خانے کا مطلب صفر نہیں ہے۔",
    )
    if base > 1:
        rounded_en = (
            f"Every count and every total was rounded on its own to a multiple of {base}, "
            "after noise was added, so the rounded cells need not add up to the rounded total. "
            "Neither number is wrong."
        )
        rounded_ur = (
            f"شور شامل کرنے کے بعد ہر گنتی اور ہر میزان کو الگ الگ {base} کے قریب ترین گُنا تک "
            "گول کیا گیا ہے، اس لیے ضروری نہیں کہ گول کیے گئے خانوں کا مجموعہ گول کیے گئے میزان "
            "کے برابر ہو۔ دونوں میں سے کوئی عدد غلط نہیں۔"
        )
    else:
        rounded_en = (
            "This table is not rounded. A total is the sum of all the noisy counts, blank "
            "ones included, so the cells shown need not add up to it."
        )
        rounded_ur = (
            "یہ جدول گول نہیں کیا گیا۔ میزان تمام شور والی گنتیوں کا مجموعہ ہے، خالی خانوں سمیت، "
            "اس لیے ضروری نہیں کہ دکھائے گئے خانوں کا مجموعہ اس کے برابر ہو۔"
        )
    rounded = Note(
        "Why rounded cells need not add up to rounded totals",
        rounded_en,
        "گول کیے گئے خانوں کا مجموعہ گول کیے گئے میزان کے برابر کیوں نہیں ہوتا",
        rounded_ur,
    )
    return [interval, blank, rounded]


def text(meta: dict[str, Any], coverage: tuple[str, str]) -> str:
    """The about text as plain text (CRLF, as the CSV): English, then Urdu."""
    found = facts(meta, coverage)
    lines = [TITLE[0], ""]
    lines += [f"{f.en}: {f.value}" for f in found]
    for note in notes(meta):
        lines += ["", note.en_heading, note.en]
    lines += ["", "", TITLE[1], ""]
    lines += [f"{f.ur}: {f.value}" for f in found]
    for note in notes(meta):
        lines += ["", note.ur_heading, note.ur]
    return "\r\n".join(lines) + "\r\n"
