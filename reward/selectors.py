"""Reads of the reward model's stored results: the active version, clip scores, per-prompt rankings, suggestions.

Everything here reads precomputed ClipScore rows: web processes never load the model (nor torch) to answer.
"""
from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q

from arena.models import Clip, Prompt
from core.axes import MODEL_AXES, Axis
from reward.errors import NoActiveRewardModel, PromptNotFound
from reward.models import AgreementReport, ClipScore, RewardModelVersion

OVERALL = Axis.OVERALL.value
# Vote columns holding each model axis's human outcome; the model has no lyrics head.
AXIS_COLUMNS = {axis.value: axis.column for axis in MODEL_AXES}


@dataclass(frozen=True)
class RankedClip:
    """One clip in a prompt's model ranking; `p_beats_next` is P(this clip preferred to the one ranked below)."""

    rank: int
    clip_id: int
    clip_public_id: str
    system_id: int
    system_name: str
    score: float
    scores: dict[str, float]
    p_beats_next: float | None


@dataclass(frozen=True)
class PromptRanking:
    prompt_id: int
    prompt_text: str
    axis: str
    version_name: str
    clips: list[RankedClip]
    unscored_clips: int


def preference_probability(*, score_a: float, score_b: float) -> float:
    """P(A preferred to B) under the model's Bradley-Terry reading of scores: sigmoid(score_a - score_b)."""
    difference = score_a - score_b
    # The two branches keep exp() from overflowing for large score gaps.
    if difference >= 0:
        return 1.0 / (1.0 + math.exp(-difference))
    odds = math.exp(difference)
    return odds / (1.0 + odds)


def version_active() -> RewardModelVersion | None:
    return RewardModelVersion.objects.filter(active=True).first()


def versions_list() -> list[RewardModelVersion]:
    return list(RewardModelVersion.objects.order_by("-created_at", "-id"))


def version_progress(*, version: RewardModelVersion, kind: str) -> dict[str, Any]:
    """Progress of the version's training or rescoring ({} before it starts), as the tasks record it."""
    entry = (version.metrics or {}).get(kind)
    return dict(entry) if isinstance(entry, dict) else {}


def clip_scores(*, clip_ids: list[int], version: RewardModelVersion | None = None) -> dict[int, dict[str, float]]:
    """clip id -> {axis: score} from the given version (the active one by default); clips without scores left out."""
    version = version or version_active()
    if version is None or not clip_ids:
        return {}
    scores: dict[int, dict[str, float]] = {}
    rows = ClipScore.objects.filter(version=version, clip_id__in=clip_ids).values_list("clip_id", "axis", "score")
    for clip_id, axis, score in rows:
        scores.setdefault(clip_id, {})[axis] = score
    return scores


def clips_unscored_ids(*, version: RewardModelVersion, clip_ids: list[int] | None = None) -> list[int]:
    """Active clips that have no score yet from `version` (optionally among `clip_ids`), in id order."""
    clips = Clip.objects.filter(active=True)
    if clip_ids is not None:
        clips = clips.filter(id__in=clip_ids)
    scored = ClipScore.objects.filter(version=version).values("clip_id")
    return list(clips.exclude(id__in=scored).order_by("id").values_list("id", flat=True))


def version_score_count(*, version: RewardModelVersion) -> int:
    """How many clips the version has scored (on any axis)."""
    return ClipScore.objects.filter(version=version).values("clip_id").distinct().count()


def prompt_ranking(*, prompt_id: int, axis: str = OVERALL) -> PromptRanking:
    """The prompt's active clips ranked by the active version's score on `axis`, best first."""
    prompt = Prompt.objects.filter(pk=prompt_id).first()
    if prompt is None:
        raise PromptNotFound(f"Prompt {prompt_id} does not exist.")
    version = version_active()
    if version is None:
        raise NoActiveRewardModel()
    clips = list(Clip.objects.filter(prompt=prompt, active=True).select_related("system").order_by("id"))
    scores = clip_scores(clip_ids=[clip.pk for clip in clips], version=version)
    scored = [clip for clip in clips if axis in scores.get(clip.pk, {})]
    scored.sort(key=lambda clip: (-scores[clip.pk][axis], clip.pk))
    ranked: list[RankedClip] = []
    for index, clip in enumerate(scored):
        below = scored[index + 1] if index + 1 < len(scored) else None
        ranked.append(
            RankedClip(
                rank=index + 1,
                clip_id=clip.pk,
                clip_public_id=clip.public_id,
                system_id=clip.system_id,
                system_name=clip.system.name,
                score=scores[clip.pk][axis],
                scores=dict(sorted(scores[clip.pk].items())),
                p_beats_next=(
                    preference_probability(score_a=scores[clip.pk][axis], score_b=scores[below.pk][axis])
                    if below is not None
                    else None
                ),
            )
        )
    return PromptRanking(
        prompt_id=prompt.pk,
        prompt_text=prompt.text,
        axis=axis,
        version_name=version.name,
        clips=ranked,
        unscored_clips=len(clips) - len(scored),
    )


def prompts_ranked_list(*, limit: int = 200) -> list[dict[str, Any]]:
    """Prompts that have clips, with how many clips each has and how many the active version scored."""
    version = version_active()
    prompts = Prompt.objects.filter(clips__active=True).distinct().order_by("id")[:limit]
    rows = []
    for prompt in prompts:
        clip_ids = list(prompt.clips.filter(active=True).values_list("id", flat=True))
        scored = len(clip_scores(clip_ids=clip_ids, version=version)) if version is not None else 0
        rows.append({"id": prompt.pk, "text": prompt.text, "clips": len(clip_ids), "scored": scored})
    return rows


def pair_probability(*, clip_a_id: int, clip_b_id: int, axis: str = OVERALL) -> float | None:
    """P(clip A preferred to clip B) on `axis` from the active version's stored scores; None when either is missing."""
    scores = clip_scores(clip_ids=[clip_a_id, clip_b_id])
    first = scores.get(clip_a_id, {}).get(axis)
    second = scores.get(clip_b_id, {}).get(axis)
    if first is None or second is None:
        return None
    return preference_probability(score_a=first, score_b=second)


def battle_suggestion(*, clip_a: Clip | int, clip_b: Clip | int) -> tuple[str, float] | None:
    """The side the active model expects people to prefer overall and its probability (>= 0.5), or None.

    None when no version is active or either clip is not scored yet. Only a side and a probability: never a system.
    """
    first = clip_a if isinstance(clip_a, int) else clip_a.pk
    second = clip_b if isinstance(clip_b, int) else clip_b.pk
    p_a = pair_probability(clip_a_id=first, clip_b_id=second)
    if p_a is None:
        return None
    return ("a", p_a) if p_a >= 0.5 else ("b", 1.0 - p_a)


def suggestion_for_new_battle(*, clip_a: Clip | int, clip_b: Clip | int) -> dict[str, Any]:
    """What a new battle records about the model's suggestion: Battle/Vote fields suggestion_shown, _side, _p.

    When EARSHOT_SUGGESTION_SHARE > 0, the side and probability are recorded for every battle the model can score,
    shown or not, so the agreement page can compare agreement with the suggestion when it was shown against when
    it was hidden (anchoring); that random share of them shows it to the rater.
    """
    share = float(settings.EARSHOT_SUGGESTION_SHARE)
    # With no share shown there is nothing to compare against, so the hot path skips the score lookup.
    suggestion = battle_suggestion(clip_a=clip_a, clip_b=clip_b) if share > 0 else None
    if suggestion is None:
        return {"suggestion_shown": False, "suggestion_side": "", "suggestion_p": None}
    side, probability = suggestion
    # secrets rather than random: a rater must not be able to predict which battles show a suggestion.
    shown = share > 0 and secrets.randbelow(1_000_000) < round(share * 1_000_000)
    return {"suggestion_shown": shown, "suggestion_side": side, "suggestion_p": probability}


def agreement_report_current(*, scope: str = "arena") -> AgreementReport | None:
    """The newest agreement report of the active version (or of any version when none is active)."""
    reports = AgreementReport.objects.filter(scope=scope).select_related("version")
    version = version_active()
    if version is not None:
        own = reports.filter(version=version).order_by("-computed_at", "-id").first()
        if own is not None:
            return own
    return reports.order_by("-computed_at", "-id").first()


def version_scores_for_systems(*, version: RewardModelVersion, axis: str = OVERALL) -> list[tuple[int, float]]:
    """(system id, score) for every scored active clip of the version on `axis`."""
    return list(
        ClipScore.objects.filter(Q(version=version) & Q(axis=axis) & Q(clip__active=True)).values_list(
            "clip__system_id", "score"
        )
    )


def version_damage_table(*, version: RewardModelVersion) -> dict[str, Any] | None:
    """The real-recording damage table stored in the version's checkpoint config.json (metrics.real_recordings, as
    `manage.py build_reward_model` writes it), or None when the checkpoint has none. Reads JSON only, no audio."""
    import json
    from pathlib import Path

    location = Path(version.path)
    config_path = (location if location.is_dir() else location.parent) / "config.json"
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError):
        return None
    table = ((config.get("metrics") or {}) if isinstance(config, dict) else {}).get("real_recordings")
    if not isinstance(table, dict) or not isinstance(table.get("rows"), list):
        return None
    return table
