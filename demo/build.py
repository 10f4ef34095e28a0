"""Building the bundled reward model from the demo: stage 2 on the demo's simulated votes, judged against the
simulation's true preference model (which only the demo knows)."""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

from demo.services import demo_axis_strengths
from reward.errors import NotEnoughData
from reward.training import Progress, vote_records_with_systems


def true_model_accuracy(*, votes: Sequence[tuple[Any, str, str]]) -> dict[str, dict[str, Any]]:
    """Per axis, the share of decisive votes won by the side the simulation's true preference model favours (the
    higher strength; half a point when both strengths are equal): the best accuracy any model can expect."""
    strengths = demo_axis_strengths()
    report: dict[str, dict[str, Any]] = {}
    for axis, table in strengths.items():
        points: list[float] = []
        for record, slug_a, slug_b in votes:
            outcome = record.outcomes.get(axis)
            if outcome not in {"a", "b"} or slug_a not in table or slug_b not in table:
                continue
            difference = table[slug_a] - table[slug_b]
            points.append(0.5 if difference == 0 else float((difference > 0) == (outcome == "a")))
        if points:
            report[axis] = {"decisive_pairs": len(points), "accuracy": round(sum(points) / len(points), 4)}
    return report


def demo_finetune(
    *, network: Any, settings_ft: Any, progress: Progress | None = None
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Stage 2 on every vote in the database, then per axis on the votes held out by prompt: the network's accuracy
    (before and after) and that of the demo simulation's true preference model on the same votes.
    Returns (the fine-tuned network, its metrics, a summary of the votes used)."""
    from reward.ml import train as training

    with ExitStack() as stack:
        votes = vote_records_with_systems(stack=stack)
        if len(votes) < 2:
            raise NotEnoughData(f"Fine-tuning needs votes: there are {len(votes)} usable ones.")
        records = [record for record, _, _ in votes]
        # The split reward_finetune makes: the usable records, split by prompt with the same seed and fraction.
        usable = [r for r in records if any(r.outcomes.get(axis) in training.OUTCOME_TARGET for axis in network.axes)]
        _, held = training.records_split(
            records=usable, holdout_fraction=settings_ft.holdout_fraction, seed=settings_ft.seed
        )
        before = training.votes_evaluate(model=network, records=held)
        result = training.reward_finetune(model=network, records=records, settings=settings_ft, progress=progress)
    held_ids = {id(record) for record in held}
    held_votes = [row for row in votes if id(row[0]) in held_ids]
    metrics = dict(result.metrics)
    metrics["true_model_holdout"] = true_model_accuracy(votes=held_votes)
    metrics["holdout_before_finetune"] = before
    metrics["history"] = result.history
    summary = {
        "votes": len(votes),
        "prompts": len({record.group_key for record in records}),
        "clips": len({str(side) for record in records for side in (record.clip_a, record.clip_b)}),
        "systems": sorted({slug for _, a, b in votes for slug in (a, b)}),
    }
    return result.model, metrics, summary
