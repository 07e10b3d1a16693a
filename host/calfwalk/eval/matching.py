"""Pairing detected event times with reference ones: the accuracy tables and the sweep both score with it."""

from __future__ import annotations

import numpy as np

MATCH_MS = 150  # a detected contact this close to a reference IC is the same heel strike


def match(detected, reference, tol_ms=MATCH_MS):
    """One-to-one nearest matching in time order; returns (det_idx, ref_idx) pairs."""
    pairs = []
    used = set()
    for j, r in enumerate(reference):
        if len(detected) == 0:
            break
        d = np.abs(detected - r)
        for i in np.argsort(d):
            if d[i] > tol_ms:
                break
            if i not in used:
                used.add(i)
                pairs.append((int(i), j))
                break
    return pairs
