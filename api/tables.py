"""How a release reads: its cells with English and Urdu labels, and what they mean.

A release stores its noisy cells; the body a caller gets is post-processing of them at the
confidence the caller asks. Labels come from the public code lists only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

import privacy
from api import columns
from api.releases import Prepared
from schema.codelists import codelists
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


def labels(axis: privacy.Axis) -> dict[str | None, dict[str, Any]]:
    """Each code of an axis with its labels (as every release body shows them)."""
    return _labels(axis)


def body(p: Prepared, released: privacy.Release) -> dict[str, Any]:
    """The row form: one object per cell (``api.columns`` gives the same in columns)."""
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

    cells = [cell(c) for c in released.cells()] + [cell(c) for c in released.totals()]
    return {**_head(p, released), "cells": cells}


def in_columns(p: Prepared, released: privacy.Release) -> dict[str, Any]:
    """The columnar form (``api.columns``), built from the release's arrays: what a new
    release stores."""
    return columns.build(_head(p, released), [_labels(a) for a in p.axes], released)


def _head(p: Prepared, released: privacy.Release) -> dict[str, Any]:
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
        "threshold": released.policy.threshold,
        "sensitive_threshold": released.policy.sensitive_threshold,
        "privacy_unit": "one complainant",
        "contribution_bound": p.dataset.max_cases_per_person,
        "rounding": options.get("rounding"),
        "margins": bool(options.get("margins")),
        "interpretation": released.interpretation,
    }


def encode(content: dict[str, Any]) -> str:
    """A body as stored: JSON, UTF-8 text (non-ASCII as itself). orjson: about ten times
    faster than ``json`` on a 4,608-cell body; the values read back are the same."""
    return orjson.dumps(content).decode("utf-8")


def stored_noise(released: privacy.Release) -> str:
    """What a release keeps to give its intervals at another confidence later: its noisy cells
    and everything their post-processing read (scale, axes, policy), as it was at release
    time. Later settings or code lists never change an old release."""
    policy = released.policy
    encoded = orjson.dumps(
        {
            "cells": released.noisy.tolist(),
            "scale": released.plan.scale,
            "axes": [[a.dimension, list(a.codes), sorted(a.sensitive)] for a in released.axes],
            "policy": {
                "threshold": policy.threshold,
                "sensitive_threshold": policy.sensitive_threshold,
                "sensitive_query": policy.sensitive_query,
                "margins": policy.margins,
                "rounding": policy.rounding,
            },
        }
    )
    return encoded.decode("utf-8")


def at_confidence(
    body: dict[str, Any], stored: dict[str, Any], confidence: float
) -> dict[str, Any]:
    """A stored release's body with its intervals at ``confidence``: post-processing of its
    stored noisy cells, by its stored policy, with no new randomness and no charge. Counts,
    suppression and keys are the stored body's own; only the bounds are computed again."""
    axes = [privacy.Axis(d, tuple(codes), frozenset(sens)) for d, codes, sens in stored["axes"]]
    policy = privacy.Policy(**stored["policy"])
    scale = float(stored["scale"])
    noisy = np.asarray(stored["cells"], dtype=np.int64)
    lower, upper = privacy.intervals(scale, axes, policy, noisy, confidence)
    cells = [
        c if c["suppressed"] else {**c, "lower": int(lo), "upper": int(hi)}
        for c, lo, hi in zip(body["cells"], lower.tolist(), upper.tolist(), strict=True)
    ]
    return {
        **body,
        "margin_of_error": privacy.cell_half_width(scale, confidence),
        "confidence": confidence,
        "interpretation": interpretation(confidence),
        "cells": cells,
    }


def interpretation(confidence: float) -> str:
    return (
        f"With {confidence:.0%} confidence, each count before noise lies between its lower and "
        "upper bound; totals are sums of noisy cells with their own intervals."
    )
