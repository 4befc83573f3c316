"""How a release reads: its cells with English and Urdu labels, and what they mean.

A release stores its noisy cells; the body a caller gets is post-processing of them at the
confidence the caller asks. Labels come from the public code lists only.
"""

from __future__ import annotations

import json
from typing import Any

import privacy
from api.releases import Prepared
from schema.codelists import codelists
from schema.settings import Settings
from schema.vocabulary import TIME

TOTAL_LABEL = {"code": "TOTAL", "label": "Total", "label_ur": "کل"}


def _labels(axis: privacy.Axis) -> dict[str | None, dict[str, Any]]:
    """Each code of an axis (and its total, ``None``) with its English and Urdu label."""
    name = axis.dimension
    labels: dict[str | None, dict[str, Any]] = {None: {"dimension": name, **TOTAL_LABEL}}
    if name in TIME:
        for c in axis.codes:
            labels[c] = {"dimension": name, "code": c, "label": c, "label_ur": c}
        return labels
    entries = {c.code: c for c in codelists()[name].codes}
    for c in axis.codes:
        labels[c] = {
            "dimension": name,
            "code": c,
            "label": entries[c].en,
            "label_ur": entries[c].ur,
        }
    return labels


def body(p: Prepared, released: privacy.Release, settings: Settings) -> dict[str, Any]:
    labels = [_labels(a) for a in p.axes]

    def cell(c: privacy.Cell) -> dict[str, Any]:
        return {
            "key": [names[k] for names, k in zip(labels, c.key, strict=True)],
            "count": c.count,
            "lower": c.lower,
            "upper": c.upper,
            "suppressed": c.suppressed,
            "reason": c.reason,
            "total": c.total,
        }

    plan = released.plan
    options = p.canonical.form["options"]
    return {
        "dataset": p.dataset.slug,
        "dataset_version": p.version.number,
        "group_by": [a.dimension for a in p.axes],
        "epsilon": str(plan.epsilon),
        "mechanism": privacy.MECHANISM,
        "noise_scale": plan.scale,
        "margin_of_error": plan.margin_of_error,
        "confidence": plan.confidence,
        "threshold": settings.suppression_threshold,
        "sensitive_threshold": settings.sensitive_threshold,
        "privacy_unit": "one complainant",
        "contribution_bound": p.dataset.max_cases_per_person,
        "rounding": options.get("rounding"),
        "margins": bool(options.get("margins")),
        "interpretation": released.interpretation,
        "cells": [cell(c) for c in released.cells()] + [cell(c) for c in released.totals()],
    }


def encode(content: dict[str, Any]) -> str:
    return json.dumps(content, ensure_ascii=False)


def at_confidence(
    p: Prepared, noisy: list[int], confidence: float, settings: Settings
) -> dict[str, Any]:
    """A stored release's body with intervals at ``confidence``: post-processing of the
    stored noisy cells, no new randomness and no charge."""
    import numpy as np

    plan = p.plan.at_confidence(confidence)
    released = privacy.postprocess(plan, np.asarray(noisy, dtype=np.int64), p.axes, p.policy)
    return body(p, released, settings)
