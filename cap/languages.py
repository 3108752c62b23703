"""Choosing among an alert's <info> blocks by language.

CAP 1.2 §3.2.2: each <info> has a <language> (RFC 3066 / BCP 47 tag, default "en-US"), and an
alert may carry one <info> per language for the same event. A recipient with a working language
is given the block that matches it best: the same tag, else the longest common run of subtags
(fr-CA for fr, fr for fr-FR: the primary language at least), else the first block, which is the
sender's own choice of lead language.
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_LANGUAGE = "en-US"


def _subtags(tag: str | None) -> list[str]:
    return [
        part for part in (tag or DEFAULT_LANGUAGE).strip().casefold().replace("_", "-").split("-") if part
    ]


def match_score(available: str | None, wanted: str) -> int:
    """How many leading subtags two language tags share (0: not the same language)."""
    score = 0
    for mine, theirs in zip(_subtags(available), _subtags(wanted), strict=False):
        if mine != theirs:
            break
        score += 1
    return score


def best_language(available: Sequence[str | None], wanted: str | None) -> tuple[int, bool]:
    """The index of the best block for `wanted` among the blocks' languages (None: the CAP
    default, en-US), and whether it is in the wanted language at all; (0, False) when none is
    (or nothing is wanted), (-1, False) when there is no block."""
    if not available:
        return -1, False
    if not wanted:
        return 0, False
    scores = [match_score(tag, wanted) for tag in available]
    best = max(scores)
    if best == 0:
        return 0, False
    return scores.index(best), True
