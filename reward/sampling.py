"""A sampling policy that prefers the clip pairs the reward model is least sure about, every system kept in rotation.

Set EARSHOT_SAMPLING_POLICY=reward.sampling.UncertaintyPolicy. System pairs are drawn exactly as
BalancedPolicy draws them (fewest votes first), so no system drops out; only the choice among the clip pairs that
show the drawn system pair leans toward those whose stored scores give P(A preferred) near 1/2.
"""
from __future__ import annotations

import random

from arena.sampling import BalancedPolicy, ClipPair, SystemPair
from reward.selectors import clip_scores, preference_probability

# Every candidate keeps at least this weight (a certain pair) against 1 (a coin-flip pair), so none is ruled out.
CERTAIN_PAIR_WEIGHT = 0.1


def pair_uncertainty(*, p_a: float | None) -> float:
    """4 p (1 - p): 1 when the model thinks it a coin flip, 0 when it is sure; unscored pairs count as unsure."""
    if p_a is None:
        return 1.0
    return 4.0 * p_a * (1.0 - p_a)


class UncertaintyPolicy(BalancedPolicy):
    """BalancedPolicy over system pairs; within the chosen system pair, clip pairs weighted by model uncertainty."""

    def clip_pair_pick(
        self, *, pair: SystemPair, candidates: list[tuple[int, ClipPair]], rng: random.Random
    ) -> tuple[int, ClipPair]:
        clip_ids = sorted({clip for _, clips in candidates for clip in clips})
        scores = clip_scores(clip_ids=clip_ids)
        weights = []
        for _, (first, second) in candidates:
            first_score = scores.get(first, {}).get("overall")
            second_score = scores.get(second, {}).get("overall")
            p_a = (
                preference_probability(score_a=first_score, score_b=second_score)
                if first_score is not None and second_score is not None
                else None
            )
            weights.append(CERTAIN_PAIR_WEIGHT + (1.0 - CERTAIN_PAIR_WEIGHT) * pair_uncertainty(p_a=p_a))
        return rng.choices(candidates, weights=weights)[0]
