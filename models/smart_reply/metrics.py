"""Ranking metrics of Smart Reply's suggestions, shared by the FamilyEvaluator hook
(evaluation.py), the baselines (baselines.py) and the mobile fidelity gate (mobile.py).
NumPy only: the modules that use it import it, never each other for it."""
from __future__ import annotations

import numpy as np


def ranking_metrics(true_clusters: np.ndarray, shown: np.ndarray,
                    ranked: np.ndarray) -> dict[str, float]:
    """recall@3 and MRR over the messages with a true cluster (≥ 0)."""
    rows = true_clusters >= 0
    if not rows.any():
        return {"recall_at_3": 0.0, "mrr": 0.0}
    true, shown, ranked = true_clusters[rows], shown[rows][:, :3], ranked[rows]
    recall = float(np.mean((shown == true[:, None]).any(axis=1)))
    hits = ranked == true[:, None]
    reciprocal = np.where(hits.any(axis=1), 1.0 / (hits.argmax(axis=1) + 1), 0.0)
    return {"recall_at_3": recall, "mrr": float(np.mean(reciprocal))}


def sensible_share(shown: list[list[str]], acceptable: list[list[str]]) -> float:
    """The share of messages whose shown intents include an acceptable one (sensible@3 when
    three are shown; a message shown nothing counts as a miss)."""
    hits = [bool(set(s) & set(ok)) for s, ok in zip(shown, acceptable, strict=True)]
    return float(np.mean(hits)) if hits else 0.0
