"""How long to wait before trying again: the one exponential backoff every retry in Retouch uses
(webhook deliveries, transient image failures, DynamoDB writes that were not all accepted,
counting transactions that lost a race)."""

from __future__ import annotations

import random


def backoff_seconds(attempt: int, first: float, cap: float, *, jitter: float = 0.0, rng: random.Random | None = None) -> float:
    """Seconds before retry ``attempt`` (1 for the first retry): ``first``, doubling with every
    attempt, at most ``cap``. ``jitter`` is the fraction of that drawn at random so retries do not
    stampede: 0 waits exactly, 0.5 draws from the upper half, 1 from anywhere below it."""
    ceiling = min(cap, first * 2 ** max(0, attempt - 1))
    if not jitter:
        return ceiling
    return ceiling * (1.0 - jitter + jitter * (rng or random).random())
