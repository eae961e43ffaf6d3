"""Per-task scores as the paper reports them: accuracy, MCC for CoLA, F1 and accuracy for
MSRP (their mean is MSRP's headline score, the GLUE convention), 3-way accuracy for SICK.
The macro average is the mean headline score over tasks.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

PRIMARY = {"cola": "mcc", "msrp": "f1_acc"}  # every other task: accuracy


def task_scores(task: str, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """All scores of one task (in [0, 1] or [-1, 1] for MCC) plus its headline ``score``."""
    out = {"acc": float(accuracy_score(y_true, y_pred))}
    if task == "cola":
        out["mcc"] = float(matthews_corrcoef(y_true, y_pred))
    if task == "msrp":
        out["f1"] = float(f1_score(y_true, y_pred, pos_label=1, zero_division=0))
        out["f1_acc"] = (out["f1"] + out["acc"]) / 2
    out["score"] = out[PRIMARY.get(task, "acc")]
    return out


def headline_name(task: str) -> str:
    return {"mcc": "MCC", "f1_acc": "F1/acc"}.get(PRIMARY.get(task, "acc"), "acc")
