"""Building a campaign's pairs: every pair or a balanced design with sides balanced, the reward model's ranking and
top-k from stored scores, pair lists from CSV/JSONL (all or nothing), idempotent rebuilds, and gold items whose
damaged copy is delivered exactly like any clip and never sampled by the arena."""
from __future__ import annotations

import io
import itertools
import json
import random
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from django.contrib.auth.models import User
from django.db import IntegrityError
from django.utils import timezone
from rest_framework.test import APIClient

from annotation import pairs as pairs_module
from annotation.assignment import assignment_next
from annotation.designs import sides_balance, uncertainty
from annotation.errors import BuildRefused
from annotation.gold import DAMAGE
from annotation.models import Assignment, Campaign, CampaignPair, CampaignRater, GoldPair
from annotation.pairs import campaign_build
from arena import hooks as arena_hooks
from arena.models import Battle, Clip, Prompt, System
from reward.models import ClipScore, RewardModelVersion
from tests.arena.arena_support import arena_isolated, catalogue_import  # noqa: F401
from tests.factories import ClipFactory, PromptFactory, RaterFactory, SystemFactory
from tests.threads import database_pool_holding, needs_row_locks, run_threads

pytestmark = pytest.mark.django_db
Kind = CampaignPair.Kind


def campaign_make(**fields: Any) -> Campaign:
    return Campaign.objects.create(name=fields.pop("name", "Study"), slug=fields.pop("slug", "study"), **fields)


def catalogue_rows(systems: int, prompts: int) -> tuple[list[System], list[Prompt]]:
    made_systems = [SystemFactory() for _ in range(systems)]
    made_prompts = [PromptFactory() for _ in range(prompts)]
    for system, prompt in itertools.product(made_systems, made_prompts):
        ClipFactory(system=system, prompt=prompt)
    return made_systems, made_prompts


def regular(campaign: Campaign) -> list[CampaignPair]:
    return list(campaign.pairs.filter(kind=Kind.REGULAR).select_related("clip_a", "clip_b"))


def system_pair_counts(pairs: list[CampaignPair]) -> Counter[frozenset[int]]:
    return Counter(frozenset((pair.clip_a.system_id, pair.clip_b.system_id)) for pair in pairs)


def side_gaps(pairs: list[CampaignPair]) -> dict[int, int]:
    sides: Counter[tuple[int, str]] = Counter()
    for pair in pairs:
        sides[pair.clip_a.system_id, "a"] += 1
        sides[pair.clip_b.system_id, "b"] += 1
    systems = {system for system, _ in sides}
    return {system: abs(sides[system, "a"] - sides[system, "b"]) for system in systems}


def test_the_all_design_makes_every_system_pair_of_every_prompt() -> None:
    systems, prompts = catalogue_rows(4, 3)
    campaign = campaign_make(overlap=5)
    summary = campaign_build(campaign=campaign, prompt_ids=[p.pk for p in prompts])
    pairs = regular(campaign)
    assert len(pairs) == 3 * 6 and summary.made[Kind.REGULAR] == 18 and not summary.skipped
    assert {pair.overlap for pair in pairs} == {5}
    assert len({pair.position for pair in pairs}) == 18
    assert all(pair.clip_a.prompt_id == pair.clip_b.prompt_id == pair.prompt_id for pair in pairs)
    assert set(system_pair_counts(pairs).values()) == {3}
    assert max(side_gaps(pairs).values()) <= 1
    # The pool goes round the prompts: each prompt's first pair, then each one's second, …
    first_three = sorted(pairs, key=lambda pair: pair.position)[:3]
    assert {pair.prompt_id for pair in first_three} == {p.pk for p in prompts}


def test_a_prompt_without_a_systems_clip_has_no_pairs_with_it_and_the_summary_says_so() -> None:
    systems, prompts = catalogue_rows(3, 2)
    Clip.objects.filter(prompt=prompts[1], system=systems[2]).update(active=False)
    campaign = campaign_make()
    summary = campaign_build(campaign=campaign, prompt_ids=[p.pk for p in prompts],
                             system_keys=[s.slug for s in systems])
    assert summary.made[Kind.REGULAR] == 3 + 1
    assert summary.skipped == Counter({"no active clip of the system": 2})
    assert any(f"prompt {prompts[1].pk} has no active clip of {systems[2].slug}" in note for note in summary.notes)
    assert not any(systems[2].pk in (pair.clip_a.system_id, pair.clip_b.system_id)
                   for pair in regular(campaign) if pair.prompt_id == prompts[1].pk)


@pytest.mark.parametrize(("systems", "prompts", "per_prompt"), [(4, 6, 2), (4, 9, 4), (5, 10, 3), (6, 15, 5)])
def test_the_balanced_design_shows_each_system_pair_equally_often_with_sides_balanced(
    systems: int, prompts: int, per_prompt: int
) -> None:
    made_systems, made_prompts = catalogue_rows(systems, prompts)
    campaign = campaign_make()
    campaign_build(campaign=campaign, prompt_ids=[p.pk for p in made_prompts], design="balanced",
                   pairs_per_prompt=per_prompt)
    pairs = regular(campaign)
    assert len(pairs) == prompts * per_prompt
    per_system_pair = prompts * per_prompt // (systems * (systems - 1) // 2)  # divisible in every case here
    counts = system_pair_counts(pairs)
    assert len(counts) == systems * (systems - 1) // 2
    assert set(counts.values()) == {per_system_pair}
    assert max(side_gaps(pairs).values()) <= 1
    assert Counter(pair.prompt_id for pair in pairs) == {p.pk: per_prompt for p in made_prompts}


def test_sides_are_balanced_within_one_on_any_multigraph() -> None:
    rng = random.Random(7)
    for _ in range(200):
        nodes = rng.randint(2, 8)
        edges = [tuple(rng.sample(range(nodes), 2)) for _ in range(rng.randint(1, 40))]
        oriented = sides_balance(edges)  # type: ignore[arg-type]
        assert [frozenset(edge) for edge in oriented] == [frozenset(edge) for edge in edges]
        out, into = Counter(a for a, _ in oriented), Counter(b for _, b in oriented)
        assert all(abs(out[node] - into[node]) <= 1 for node in range(nodes))


def scores_store(clips: dict[int, float], *, active: bool = True) -> RewardModelVersion:
    version = RewardModelVersion.objects.create(name=f"v{len(clips)}-{active}", class_path="x.Y", path="/none",
                                                sha256="0" * 64, active=active)
    ClipScore.objects.bulk_create([ClipScore(version=version, clip_id=clip, axis="overall", score=score)
                                   for clip, score in clips.items()])
    ClipScore.objects.bulk_create([ClipScore(version=version, clip_id=clip, axis="musicality", score=-score)
                                   for clip, score in clips.items()])
    return version


def test_pre_ranking_puts_the_pairs_the_model_is_least_sure_of_first() -> None:
    systems, prompts = catalogue_rows(4, 2)
    clips = list(Clip.objects.order_by("id"))
    scores = {clip.pk: value for clip, value in zip(clips, [0.0, 1.05, 2.0, 5.0, 1.0, 1.1, -1.0, 4.0], strict=True)}
    scores_store({clip: score + 9 for clip, score in scores.items()}, active=False)  # an inactive version: ignored
    scores_store(scores)
    # The reward app's provider: the active version's overall scores only (not musicality, not the other version).
    assert arena_hooks.clip_scores(list(scores)) == scores
    campaign = campaign_make()
    campaign_build(campaign=campaign, prompt_ids=[p.pk for p in prompts], rank="reward")
    ordered = sorted(regular(campaign), key=lambda pair: pair.position)
    doubts = [uncertainty(scores[pair.clip_a_id], scores[pair.clip_b_id]) for pair in ordered]
    assert len(ordered) == 12 and doubts == sorted(doubts)
    # clips are made system by system, prompt by prompt: clips 1 and 5 are two clips of the second prompt
    assert {ordered[0].clip_a_id, ordered[0].clip_b_id} == {clips[1].pk, clips[5].pk}  # scores 1.05 and 1.1


def test_top_k_keeps_the_systems_the_model_scores_highest_on_each_prompt() -> None:
    systems, prompts = catalogue_rows(4, 2)
    clips = list(Clip.objects.order_by("id"))
    scores = dict(zip([clip.pk for clip in clips], [0.0, 3.0, 2.0, 1.0, 5.0, -1.0, 4.0, 0.5], strict=True))
    scores_store(scores)
    campaign = campaign_make()
    campaign_build(campaign=campaign, prompt_ids=[p.pk for p in prompts], top_k=2)
    kept = {(pair.prompt_id, frozenset((pair.clip_a_id, pair.clip_b_id))) for pair in regular(campaign)}
    best = {prompt.pk: sorted((c for c in clips if c.prompt_id == prompt.pk), key=lambda c: -scores[c.pk])[:2]
            for prompt in prompts}
    assert kept == {(prompt, frozenset(c.pk for c in top)) for prompt, top in best.items()}


def test_ranking_without_an_active_model_is_refused_and_writes_nothing() -> None:
    _, prompts = catalogue_rows(3, 1)
    campaign = campaign_make()
    with pytest.raises(BuildRefused, match="no active reward model"):
        campaign_build(campaign=campaign, prompt_ids=[prompts[0].pk], rank="reward")
    assert not campaign.pairs.exists()


def test_building_again_adds_nothing() -> None:
    _, prompts = catalogue_rows(3, 3)
    campaign = campaign_make()
    options: dict[str, Any] = {"prompt_ids": [p.pk for p in prompts], "design": "balanced", "pairs_per_prompt": 2,
                               "practice": 2}
    first = campaign_build(campaign=campaign, **options)
    rows = sorted(campaign.pairs.values_list("id", "clip_a_id", "clip_b_id", "kind", "position"))
    again = campaign_build(campaign=campaign, **options)
    assert first.made[Kind.REGULAR] == 6 and again.made == Counter()
    assert again.skipped["already in the campaign"] == 6
    assert sorted(campaign.pairs.values_list("id", "clip_a_id", "clip_b_id", "kind", "position")) == rows
    campaign.refresh_from_db()
    assert campaign.practice_items == 2


def test_practice_pairs_come_from_prompts_outside_the_study_first() -> None:
    _, prompts = catalogue_rows(3, 3)
    study = [prompts[0].pk, prompts[1].pk]
    campaign = campaign_make()
    summary = campaign_build(campaign=campaign, prompt_ids=study, design="balanced", pairs_per_prompt=1, practice=4)
    practice = list(campaign.pairs.filter(kind=Kind.PRACTICE))
    assert summary.made[Kind.PRACTICE] == 4 and len(practice) == 4
    assert sum(pair.prompt_id == prompts[2].pk for pair in practice) == 3  # all the outside prompt has
    pairs = [frozenset((pair.clip_a_id, pair.clip_b_id)) for pair in campaign.pairs.all()]
    assert len(pairs) == len(set(pairs))
    # Every pair of the study's prompts taken: only the outside prompt's three, and the summary says so.
    full = campaign_make(name="Full", slug="full")
    summary = campaign_build(campaign=full, prompt_ids=study, practice=4)
    assert summary.made[Kind.PRACTICE] == 3
    assert "only 3 practice pair(s) possible of 4 asked" in summary.notes


# --- pair lists --------------------------------------------------------------------------------------------------


def test_a_csv_list_of_clip_ids_is_built_in_its_order_and_sides(tmp_path: Path) -> None:
    systems, prompts = catalogue_rows(3, 2)
    clip = {(c.system_id, c.prompt_id): c for c in Clip.objects.all()}
    lines = [(prompts[0], systems[1], systems[0]), (prompts[1], systems[2], systems[1])]
    rows = "prompt_id,clip_a,clip_b\n" + "".join(
        f"{p.pk},{clip[a.pk, p.pk].public_id},{clip[b.pk, p.pk].public_id}\n" for p, a, b in lines
    )
    path = tmp_path / "pairs.csv"
    path.write_text(rows)
    campaign = campaign_make()
    campaign_build(campaign=campaign, source=path)
    made = [(pair.prompt_id, pair.clip_a.system_id, pair.clip_b.system_id)
            for pair in sorted(regular(campaign), key=lambda pair: pair.position)]
    assert made == [(p.pk, a.pk, b.pk) for p, a, b in lines]


def test_a_jsonl_list_by_system_slugs_with_a_reversed_existing_pair_skips_it(tmp_path: Path) -> None:
    systems, prompts = catalogue_rows(3, 1)
    campaign = campaign_make()
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"prompt_id": prompts[0].pk, "system_a": systems[0].slug,
                                "system_b": systems[1].slug}) + "\n\n")
    assert campaign_build(campaign=campaign, source=path).made[Kind.REGULAR] == 1
    path.write_text("\n".join(json.dumps({"prompt_id": prompts[0].pk, "system_a": a.slug, "system_b": b.slug})
                              for a, b in [(systems[1], systems[0]), (systems[2], systems[0])]))
    summary = campaign_build(campaign=campaign, source=path)
    assert summary.made[Kind.REGULAR] == 1 and summary.skipped["already in the campaign"] == 1
    assert campaign.pairs.count() == 2


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_list_with_bad_lines_writes_nothing_and_names_each_one(tmp_path: Path, suffix: str) -> None:
    systems, prompts = catalogue_rows(2, 2)
    other_prompt_clip = Clip.objects.get(system=systems[0], prompt=prompts[1])
    inactive = ClipFactory(system=systems[1], prompt=prompts[0], active=False)
    a, b = (Clip.objects.get(system=s, prompt=prompts[0], active=True) for s in systems)
    entries: list[dict[str, Any]] = [
        {"prompt_id": prompts[0].pk, "clip_a": a.public_id, "clip_b": b.public_id},  # good
        {"prompt_id": prompts[0].pk, "clip_a": a.public_id, "clip_b": "nope"},
        {"prompt_id": prompts[0].pk, "clip_a": a.public_id, "clip_b": other_prompt_clip.public_id},
        {"prompt_id": prompts[0].pk, "system_a": systems[0].slug, "system_b": "ghost"},
        {"prompt_id": "x1", "system_a": systems[0].slug, "system_b": systems[1].slug},
        {"prompt_id": prompts[0].pk, "clip_a": b.public_id, "clip_b": a.public_id},
        {"prompt_id": prompts[0].pk, "clip_a": a.public_id, "clip_b": inactive.public_id},
    ]
    path = tmp_path / f"pairs{suffix}"
    if suffix == ".csv":
        buffer = io.StringIO()
        buffer.write("prompt_id,clip_a,clip_b,system_a,system_b\n")
        for entry in entries:
            buffer.write(",".join(str(entry.get(key, "")) for key in
                                  ("prompt_id", "clip_a", "clip_b", "system_a", "system_b")) + "\n")
        path.write_text(buffer.getvalue())
        first = 2  # the header is line 1
    else:
        path.write_text("\n".join(json.dumps(entry) for entry in entries) + "\n{not json\n")
        first = 1
    campaign = campaign_make()
    with pytest.raises(BuildRefused) as refused:
        campaign_build(campaign=campaign, source=path, gold=1, practice=1)
    lines = refused.value.details["lines"]
    assert lines[:6] == [
        f"line {first + 1}: clip_b 'nope' does not exist",
        f"line {first + 2}: clip_a and clip_b are clips of different prompts",
        f"line {first + 3}: system_b 'ghost' does not exist",
        f"line {first + 4}: prompt_id must be a positive integer id, not 'x1'",
        f"line {first + 5}: the same pair as line {first}",
        f"line {first + 6}: clip_b '{inactive.public_id}' is not active",
    ]
    if suffix == ".jsonl":
        assert lines[6].startswith("line 8: not valid JSON")
    assert "nothing written" in refused.value.message
    assert not CampaignPair.objects.exists() and not Clip.objects.filter(original_name__startswith="gold-").exists()


# --- gold --------------------------------------------------------------------------------------------------------


def si_snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant signal-to-noise ratio of `estimate` against `reference` (mono mixes, same length)."""
    ref, est = reference.mean(axis=1), estimate.mean(axis=1)
    projection = np.dot(est, ref) / np.dot(ref, ref) * ref
    return float(10 * np.log10(np.sum(projection**2) / np.sum((est - projection) ** 2)))


def delivery_bytes(clip: Clip) -> bytes:
    with clip.delivery.open("rb") as handle:
        return handle.read()


@pytest.fixture
def real_campaign(tmp_path: Path) -> Campaign:
    catalogue = catalogue_import(tmp_path, systems=3, prompts=1, seconds=2.0)
    campaign = campaign_make(status=Campaign.Status.OPEN, min_listen_seconds=1.0, gold_rate=0.5)
    campaign_build(campaign=campaign, prompt_ids=[catalogue.prompts[0].pk])
    return campaign


def test_gold_items_pair_a_clean_clip_with_an_inactive_damaged_copy_delivered_like_any_clip(
    real_campaign: Campaign,
) -> None:
    summary = campaign_build(campaign=real_campaign, prompt_ids=[Prompt.objects.get().pk], gold=2)
    assert summary.made == Counter({Kind.GOLD: 2}) and summary.skipped["already in the campaign"] == 3
    golds = list(GoldPair.objects.select_related("pair", "clean_clip", "damaged_clip"))
    assert len(golds) == 2 and len({gold.clean_clip.system_id for gold in golds}) == 2
    for gold in golds:
        clean, damaged = gold.clean_clip, gold.damaged_clip
        assert gold.pair.kind == Kind.GOLD and gold.damage == DAMAGE
        assert {gold.pair.clip_a_id, gold.pair.clip_b_id} == {clean.pk, damaged.pk}
        assert gold.pair.overlap == real_campaign.overlap
        assert not damaged.active and clean.active
        assert (damaged.system_id, damaged.prompt_id) == (clean.system_id, clean.prompt_id)
        assert damaged.duration_s == pytest.approx(clean.duration_s)
        # The delivery copy: the same layout, size and loudness as the clean one's, with nothing in front.
        clean_bytes, damaged_bytes = delivery_bytes(clean), delivery_bytes(damaged)
        assert len(damaged_bytes) == len(clean_bytes)
        assert damaged.delivery_frame_bytes == clean.delivery_frame_bytes
        assert damaged.delivery_lufs == pytest.approx(clean.delivery_lufs, abs=1.0)
        assert not damaged_bytes.startswith(b"ID3") and b"LAME" not in damaged_bytes[:1024]
        assert b"Xing" not in damaged_bytes[:1024] and b"Info" not in damaged_bytes[:1024]
        clean_info, damaged_info = sf.info(io.BytesIO(clean_bytes)), sf.info(io.BytesIO(damaged_bytes))
        assert (damaged_info.samplerate, damaged_info.channels) == (clean_info.samplerate, clean_info.channels)
        assert damaged_info.frames == clean_info.frames
        # Clearly worse: against the clean delivery it is mostly noise and distortion.
        clean_audio = sf.read(io.BytesIO(clean_bytes), always_2d=True)[0]
        damaged_audio = sf.read(io.BytesIO(damaged_bytes), always_2d=True)[0]
        assert si_snr_db(clean_audio, damaged_audio) < 0.0
    # Building again makes no more gold (the count is a total) and no second copy of a clip.
    again = campaign_build(campaign=real_campaign, prompt_ids=[Prompt.objects.get().pk], gold=2)
    assert again.made == Counter() and GoldPair.objects.count() == 2
    assert Clip.objects.filter(active=False).count() == 2
    more = campaign_build(campaign=real_campaign, prompt_ids=[Prompt.objects.get().pk], gold=3)
    assert more.made == Counter({Kind.GOLD: 1}) and Clip.objects.filter(active=False).count() == 3
    sides = Counter("a" if gold.pair.clip_a_id == gold.damaged_clip_id else "b"
                    for gold in GoldPair.objects.select_related("pair"))
    assert sides == Counter({"b": 2, "a": 1})


def battle_shape(body: Any) -> Any:
    """The keys and value types of an answer, without its values."""
    if isinstance(body, dict):
        return {key: battle_shape(value) for key, value in body.items()}
    return type(body).__name__


def test_a_gold_item_looks_like_any_other_to_the_rater_and_the_arena_never_samples_its_copy(
    real_campaign: Campaign,
) -> None:
    campaign_build(campaign=real_campaign, prompt_ids=[Prompt.objects.get().pk], gold=1)
    gold = GoldPair.objects.get()
    user = User.objects.create_user("rater")
    member = CampaignRater.objects.create(campaign=real_campaign, rater=RaterFactory(user=user),
                                          consented_at=timezone.now())
    client = APIClient()
    client.force_login(user)

    class Fixed(random.Random):
        def __init__(self, value: float) -> None:
            super().__init__(0)
            self.value = value

        def random(self) -> float:
            return self.value

    answers: dict[str, Any] = {}
    headers: dict[str, Any] = {}
    for kind, draw in ((Kind.GOLD, 0.0), (Kind.REGULAR, 0.99)):
        item = assignment_next(member=member, rng=Fixed(draw)).assignment
        assert item is not None and item.kind == kind
        if kind == Kind.GOLD:
            assert gold.damaged_clip_id in (item.battle.clip_a_id, item.battle.clip_b_id)
        response = client.get(f"/api/battles/{item.battle.public_id}/")
        assert response.status_code == 200, response.content
        answers[kind] = response.json()
        # Audio responses: the same headers (each battle's bytes differ by design: arena.delivery).
        audio = [client.get(f"/api/battles/{item.battle.public_id}/audio/{side}") for side in "ab"]
        assert all(response.status_code == 200 for response in audio)
        headers[kind] = [(sorted(response.headers), response.headers["Content-Type"]) for response in audio]
        Battle.objects.filter(pk=item.battle_id).update(status=Battle.Status.ABANDONED)
        Assignment.objects.filter(pk=item.pk).update(status=Assignment.Status.SKIPPED)
    assert battle_shape(answers[Kind.GOLD]) == battle_shape(answers[Kind.REGULAR])
    assert answers[Kind.GOLD]["min_listen_ms"] == answers[Kind.REGULAR]["min_listen_ms"]
    assert headers[Kind.GOLD] == headers[Kind.REGULAR]
    # The open arena: battle after battle, never the damaged copy.
    for _ in range(12):
        response = APIClient().post("/api/battles/")
        assert response.status_code == 201, response.content
    used = set(Battle.objects.filter(mode=Battle.Mode.ARENA).values_list("clip_a_id", "clip_b_id"))
    assert used and not any(gold.damaged_clip_id in pair for pair in used)


@needs_row_locks
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("guarded", [False, True])
def test_builds_at_the_same_moment_add_each_pair_once(guarded: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    _, prompts = catalogue_rows(4, 2)
    campaign = campaign_make()
    builders = 3
    planned = threading.Barrier(builders, timeout=60)
    if not guarded:  # the race without the campaign's row lock: every build reads "no pairs yet" before any writes
        read = threading.Barrier(builders, timeout=60)
        existing_read = pairs_module._existing_pairs

        def existing_then_meet(campaign: Any) -> set[frozenset[int]]:
            found = existing_read(campaign)
            read.wait()
            return found

        monkeypatch.setattr(pairs_module, "_campaign_lock", lambda campaign: campaign)
        monkeypatch.setattr(pairs_module, "_existing_pairs", existing_then_meet)

    def meet_once_planned(stage: str, done: int, total: int, figures: Any) -> None:
        if stage == "pairs" and done == 0:  # every build has its plan; now they all race to write it
            planned.wait()

    def build(_: int) -> Counter[str]:
        return campaign_build(campaign=campaign.pk, prompt_ids=[p.pk for p in prompts],
                              progress=meet_once_planned).made

    with database_pool_holding(builders + 1):
        if not guarded:
            with pytest.raises(IntegrityError):  # the later builds insert the same pairs again
                run_threads(build, builders)
            return
        made = run_threads(build, builders)
    assert sorted(counts[Kind.REGULAR] for counts in made) == [0, 0, 12]
    assert campaign.pairs.count() == 12
