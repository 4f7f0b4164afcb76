"""Owner review before sending: per-company review mode, the batch waiting for a person, approve / reject / edit.

`model` holds the settings and the state changes (no web or CLI imports); `cli` and `web` are the two surfaces.
"""

from reactivation.review.model import (
    ApproveResult,
    ReviewError,
    ReviewPolicy,
    ReviewSettings,
    approve,
    edit_text,
    expire_unreviewed,
    list_batch,
    reject,
    weekly_summary,
)

__all__ = [
    "ApproveResult",
    "ReviewError",
    "ReviewPolicy",
    "ReviewSettings",
    "approve",
    "edit_text",
    "expire_unreviewed",
    "list_batch",
    "reject",
    "weekly_summary",
]
