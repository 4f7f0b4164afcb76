"""Pooled treated-vs-holdout comparisons, recomputed from counts so rates are never averaged."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from reactivation import rules

# The marts' own vars, read once per report process (reactivation.rules):
Z = rules.current().confidence_z  # `confidence_z`: the two-sided normal quantile of the uplift intervals (95 %)
MIN_SAMPLE = rules.current().min_sample_per_group  # fewer matured messages in either group is too few to judge

# The mart keys the holdout group by these columns (each campaign has its own) and repeats it on every channel ×
# composer row of the cell.
HOLDOUT_CELL = ["company_id", "send_week", "campaign", "tone", "interval_level", "variant", "predicted_segment"]
TREATED_COUNTS = ["messages", "matured_messages", "conversions", "revenue"]
HOLDOUT_COUNTS = ["holdout_matured", "holdout_conversions"]


@dataclass(frozen=True)
class Comparison:
    """Treated and holdout counts of one group, with the rates and uplift that follow from them."""

    messages: int = 0
    matured: int = 0
    conversions: int = 0
    holdout_matured: int = 0
    holdout_conversions: int = 0
    revenue: float = 0.0

    @property
    def rate(self) -> float | None:
        return self.conversions / self.matured if self.matured else None

    @property
    def holdout_rate(self) -> float | None:
        return self.holdout_conversions / self.holdout_matured if self.holdout_matured else None

    @property
    def uplift(self) -> float | None:
        if self.rate is None or self.holdout_rate is None:
            return None
        return self.rate - self.holdout_rate

    @property
    def uplift_ci(self) -> tuple[float, float] | None:
        """95 % interval of the uplift: two-proportion normal approximation, unpooled standard error (as the mart)."""
        if self.uplift is None:
            return None
        p1, p2 = self.rate, self.holdout_rate
        se = math.sqrt(p1 * (1 - p1) / self.matured + p2 * (1 - p2) / self.holdout_matured)
        return self.uplift - Z * se, self.uplift + Z * se

    @property
    def too_small(self) -> bool:
        return self.matured < MIN_SAMPLE or self.holdout_matured < MIN_SAMPLE


def wilson(successes: int, trials: int) -> tuple[float, float] | None:
    """95 % Wilson score interval of one rate: stays inside [0, 1] and is honest for small or zero counts."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + Z**2 / trials
    centre = (p + Z**2 / (2 * trials)) / denominator
    half = Z * math.sqrt(p * (1 - p) / trials + Z**2 / (4 * trials**2)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def pooled_by(campaign: pd.DataFrame, by: str) -> dict[str, Comparison]:
    """Counts summed per value of `by` (campaign, tone, level, variant or company); each holdout cell counted once."""
    if campaign.empty:
        return {}
    treated = campaign.groupby(by)[TREATED_COUNTS].sum()
    holdout = campaign.drop_duplicates(HOLDOUT_CELL).groupby(by)[HOLDOUT_COUNTS].sum()
    joined = treated.join(holdout).fillna(0)
    return {
        str(key): Comparison(
            messages=int(row.messages),
            matured=int(row.matured_messages),
            conversions=int(row.conversions),
            holdout_matured=int(row.holdout_matured),
            holdout_conversions=int(row.holdout_conversions),
            revenue=float(row.revenue),
        )
        for key, row in joined.iterrows()
    }


def pooled(campaign: pd.DataFrame) -> Comparison:
    """All cells together."""
    return pooled_by(campaign.assign(_all="all"), "_all").get("all", Comparison())
