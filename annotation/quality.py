"""Quality control of campaign raters (DESIGN.md flow 5): flags recomputed from a member's counters after each
counted vote, the one rule that leaves a rater out automatically, an admin's override, and a QualityDecision with a
readable reason for every change.

Flags (codes kept in CampaignRater.flags, in the order of `Flag`):
- failed_gold: at least one gold item answered wrong;
- fast: after FAST_MIN_VOTES regular decisions, at least FAST_SHARE of them came less than the campaign's
  fast_decision_seconds after the listening checks allowed a vote;
- same_side: after SAME_SIDE_MIN_VOTES regular decisions, at least SAME_SIDE_SHARE of them for one side (A or B);
- below_gold_threshold: after the campaign's gold_min_answers gold answers, gold accuracy under gold_threshold.

Only below_gold_threshold leaves a rater out of the campaign's boards and exports; the others are for the admin to
judge. An admin's override (always counted / always left out) wins over the rule; "automatic" returns to it.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import models, transaction

from annotation.errors import OverrideInvalid
from annotation.models import Campaign, CampaignRater, QualityDecision
from scoring.scopes import AXES, SUBSETS
from scoring.services import leaderboards_request_recompute

# A rater's first few decisions say little about their habits: the fast and same-side flags wait for this many.
FAST_MIN_VOTES = 10
FAST_SHARE = 0.5
SAME_SIDE_MIN_VOTES = 10
SAME_SIDE_SHARE = 0.95


class Flag(models.TextChoices):
    FAILED_GOLD = "failed_gold", "Failed a gold item"
    FAST = "fast", "Decides too fast"
    SAME_SIDE = "same_side", "Always the same side"
    BELOW_GOLD_THRESHOLD = "below_gold_threshold", "Gold accuracy below the threshold"


class Action(models.TextChoices):
    """What a QualityDecision records."""

    FLAGGED = "flagged", "Flag raised"
    UNFLAGGED = "unflagged", "Flag cleared"
    EXCLUDED = "excluded", "Left out of boards and exports"
    INCLUDED = "included", "Counted again"
    OVERRIDE_INCLUDE = "override_include", "Admin: always counted"
    OVERRIDE_EXCLUDE = "override_exclude", "Admin: always left out"
    OVERRIDE_AUTOMATIC = "override_automatic", "Admin: automatic"


_OVERRIDE_ACTIONS = {
    CampaignRater.Override.INCLUDE: Action.OVERRIDE_INCLUDE,
    CampaignRater.Override.EXCLUDE: Action.OVERRIDE_EXCLUDE,
    CampaignRater.Override.NONE: Action.OVERRIDE_AUTOMATIC,
}


@dataclass(frozen=True)
class FlagCheck:
    """One flag's verdict on a member's counters, and the figures behind it in words."""

    flag: Flag
    raised: bool
    reason: str


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} = {part / whole:.0%}" if whole else f"{part}/0"


def flag_checks(member: CampaignRater, campaign: Campaign) -> list[FlagCheck]:
    """Every flag's verdict on the member's current counters (reads no database)."""
    wrong = member.gold_answered - member.gold_correct
    votes = member.votes
    side, on_side = ("A", member.side_a) if member.side_a >= member.side_b else ("B", member.side_b)
    threshold = f"{campaign.gold_threshold:.0%}"
    accuracy = f"gold accuracy {_share(member.gold_correct, member.gold_answered)}"
    if member.gold_answered < campaign.gold_min_answers:
        below = False
        below_reason = (f"{accuracy} after {member.gold_answered} gold answers (the {threshold} threshold applies "
                        f"from {campaign.gold_min_answers})")
    else:
        below = member.gold_correct < campaign.gold_threshold * member.gold_answered
        below_reason = (f"{accuracy} {'<' if below else '≥'} {threshold} after {member.gold_answered} "
                        "gold answers")
    fast = votes >= FAST_MIN_VOTES and member.fast_decisions >= FAST_SHARE * votes
    same = votes >= SAME_SIDE_MIN_VOTES and on_side >= SAME_SIDE_SHARE * votes
    return [
        FlagCheck(Flag.FAILED_GOLD, wrong > 0, f"{wrong} of {member.gold_answered} gold answers wrong"),
        FlagCheck(
            Flag.FAST, fast,
            f"{_share(member.fast_decisions, votes)} of regular decisions under {campaign.fast_decision_seconds:g} s "
            f"after the listening ({'≥' if fast else 'flag from'} {FAST_SHARE:.0%} after {FAST_MIN_VOTES} votes)",
        ),
        FlagCheck(
            Flag.SAME_SIDE, same,
            f"{_share(on_side, votes)} of regular decisions for side {side} ({'≥' if same else 'flag from'} "
            f"{SAME_SIDE_SHARE:.0%} after {SAME_SIDE_MIN_VOTES} votes)",
        ),
        FlagCheck(Flag.BELOW_GOLD_THRESHOLD, below, below_reason),
    ]


def excluded_by(*, flags: list[str], override: str) -> bool:
    """Whether a member with these flags and this override is left out of boards and exports."""
    if override == CampaignRater.Override.INCLUDE:
        return False
    if override == CampaignRater.Override.EXCLUDE:
        return True
    return Flag.BELOW_GOLD_THRESHOLD in flags


def campaign_scope_names(campaign: Campaign) -> list[str]:
    """Every leaderboard scope of the campaign (its base and each view): what a change of exclusion changes."""
    return [campaign.scope, *(f"{campaign.scope}:{view}" for view in (*AXES, *SUBSETS))]


def member_quality_refresh(*, member_id: int) -> list[QualityDecision]:
    """Recompute a member's flags and exclusion from their counters; record each change with its reason and, when
    the exclusion changed, request the campaign's boards' recompute on commit. Returns the decisions written.

    Called inside the vote's transaction (annotation.assignment.vote_on_assignment), with the member's row
    already locked; locking it again here is a no-op there and keeps any other caller in the same lock order."""
    with transaction.atomic(savepoint=False):  # nothing here to roll back on its own: no savepoint per vote
        member = CampaignRater.objects.select_for_update(of=("self",)).select_related("campaign").get(pk=member_id)
        checks = flag_checks(member, member.campaign)
        flags = [check.flag.value for check in checks if check.raised]
        decisions = [
            QualityDecision(
                member=member, action=Action.FLAGGED if check.raised else Action.UNFLAGGED,
                reason=f"{check.flag.label}: {check.reason}",
            )
            for check in checks
            if check.raised != (check.flag.value in member.flags)
        ]
        excluded = excluded_by(flags=flags, override=member.override)
        if excluded != member.excluded:
            gold = next(check for check in checks if check.flag == Flag.BELOW_GOLD_THRESHOLD)
            decisions.append(QualityDecision(
                member=member, action=Action.EXCLUDED if excluded else Action.INCLUDED,
                reason=f"{'left out of' if excluded else 'counted again on'} the campaign's boards and exports: "
                       f"{gold.reason}",
            ))
        if not decisions:
            return []
        if excluded != member.excluded:
            leaderboards_request_recompute(scopes=campaign_scope_names(member.campaign))
        member.flags, member.excluded = flags, excluded
        member.save(update_fields=["flags", "excluded"])
        QualityDecision.objects.bulk_create(decisions)
        return decisions


def member_override(
    *, member: CampaignRater, override: str, by: User | None, reason: str = ""
) -> QualityDecision:
    """An admin's word on a member: "include" (always counted), "exclude" (always left out) or "" (automatic: the
    gold rule decides). Recorded with who decided and why; the campaign's boards are recomputed on commit when the
    member's exclusion changes."""
    if override not in CampaignRater.Override.values:
        choices = ", ".join(repr(value) for value in CampaignRater.Override.values)
        raise OverrideInvalid(f"{override!r} is not an override: use one of {choices}.", override=override)
    with transaction.atomic():
        member = CampaignRater.objects.select_for_update(of=("self",)).select_related("campaign").get(pk=member.pk)
        before = member.excluded
        member.override = override
        member.excluded = excluded_by(flags=member.flags, override=override)
        member.save(update_fields=["override", "excluded"])
        if member.excluded != before:
            effect = "now left out of" if member.excluded else "now counted again on"
            leaderboards_request_recompute(scopes=campaign_scope_names(member.campaign))
        else:
            effect = "still left out of" if member.excluded else "still counted on"
        flags = ", ".join(member.flags) or "none"
        action = _OVERRIDE_ACTIONS[CampaignRater.Override(override)]
        return QualityDecision.objects.create(
            member=member, action=action, decided_by=by,
            reason=f"{action.label} ({reason.strip() or 'no reason given'}); {effect} the campaign's boards and "
                   f"exports (flags: {flags})",
        )
