"""Pages of the reward model: /agreement/ (public) and the per-prompt rankings (staff, like the ranking API)."""
from __future__ import annotations

from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.axes import AXES, MODEL_AXES, Axis, page_axes
from core.errors import EarshotError
from reward.selectors import (
    agreement_report_current,
    prompt_ranking,
    prompts_ranked_list,
    version_active,
    version_damage_table,
)

AXIS_LABELS = {axis.value: axis.label for axis in AXES}
RANKING_AXES = {axis.value: axis.label for axis in MODEL_AXES}


def _estimate(entry: dict[str, Any] | None) -> dict[str, Any]:
    """An Estimate (or the bootstrap part of an AccuracyEstimate) as value, low, high, n, reason for a table cell."""
    if not entry:
        return {"value": None, "low": None, "high": None, "n": 0, "reason": "not computed", "text": "— (not computed)"}
    if "bootstrap" in entry:
        entry = entry["bootstrap"]
    cell = {key: entry.get(key) for key in ("value", "low", "high", "n", "reason", "p_value")}
    cell["text"] = _estimate_text(cell)
    return cell


def _estimate_text(cell: dict[str, Any]) -> str:
    if cell.get("value") is None:
        return f"— ({cell.get('reason') or 'undefined'})"
    text = f"{cell['value']:.3f}"
    if cell.get("low") is not None and cell.get("high") is not None:
        text += f" [{cell['low']:.3f}, {cell['high']:.3f}]"
    return text


def _axis_rows(figures: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for axis, data in (figures.get("axes") or {}).items():
        model = data.get("model") or {}
        calibration = model.get("calibration") or {}
        baselines = data.get("baselines") or {}
        prior = baselines.get("rating_prior") or {}
        ceiling = data.get("ceiling") or {}
        correlation = data.get("rank_correlation") or {}
        rows.append(
            {
                "axis": axis,
                "label": AXIS_LABELS.get(axis, axis),
                "n_votes": model.get("n_votes", 0),
                "n_decisive": model.get("n_decisive", 0),
                "n_ties": model.get("n_ties", 0),
                "n_unscored": data.get("n_votes_unscored", 0),
                "accuracy": _estimate(model.get("accuracy")),
                "accuracy_with_ties": _estimate(model.get("accuracy_with_ties")),
                "auc": _estimate(model.get("auc")),
                "brier": _estimate(calibration.get("brier")),
                "log_loss": _estimate(calibration.get("log_loss")),
                "ece": _estimate(calibration.get("ece")),
                "coin": _estimate(baselines.get("coin_flip")),
                "always_a": _estimate(baselines.get("always_a")),
                "rating_prior": _estimate(prior.get("accuracy")) if prior else _estimate(None),
                "rating_prior_note": data.get("rating_prior_note", ""),
                "ceiling": _estimate(ceiling.get("pairwise_agreement")),
                "ceiling_items": ceiling.get("n_items", 0),
                "kappa": _estimate((data.get("rater_agreement") or {}).get("fleiss_kappa")),
                "alpha": _estimate((data.get("rater_agreement") or {}).get("krippendorff_alpha")),
                "kendall": _estimate(correlation.get("kendall_tau")),
                "spearman": _estimate(correlation.get("spearman_rho")),
                "systems": [
                    {"name": name, "accuracy": _estimate(report.get("accuracy")), "auc": _estimate(report.get("auc")),
                     "n_votes": report.get("n_votes", 0)}
                    for name, report in (data.get("systems") or {}).items()
                ],
            }
        )
    return rows


def _damage_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the real-recording damage table with each share's place against its target (None: no target)."""
    out = []
    for row in rows:
        target = row.get("target")
        shares = [row.get(axis) for axis in ("overall", "musicality")]
        held = None if target is None else all(isinstance(v, (int, float)) and v >= target for v in shares)
        out.append({**row, "held": held})
    return out


def _damage_context(report: Any, active: Any) -> dict[str, Any] | None:
    """The checkpoint's real-recording damage table (stored in its config.json: no audio is read here)."""
    version = report.version if report is not None else active
    table = version_damage_table(version=version) if version is not None else None
    if table is None:
        return None
    return {
        "version": version,
        "rows": _damage_rows(table.get("rows") or []),
        "implementations": _damage_rows(table.get("implementations") or []),
        "families": _damage_rows(table.get("families") or []),
        "excerpts": table.get("excerpts"),
        "excerpt_seconds": table.get("excerpt_seconds"),
        "tracks": len(table.get("tracks") or []),
        "packages": table.get("packages") or [],
        "missed": table.get("targets_missed") or [],
    }


def agreement_page(request: HttpRequest) -> HttpResponse:
    """/agreement/: the newest agreement report as tables with 95% intervals and plots drawn from the same figures,
    and beside them the checkpoint's real-recording damage table."""
    report = agreement_report_current()
    active = version_active()
    context: dict[str, Any] = {"report": report, "active": active, "damage": _damage_context(report, active)}
    if report is not None:
        figures = report.figures or {}
        context.update(
            {
                "figures": figures,
                "axes": _axis_rows(figures),
                "axis_vocabulary": page_axes(),
                "anchoring": {
                    key: _estimate((figures.get("anchoring") or {}).get(key)) for key in ("shown", "hidden",
                                                                                          "difference")
                },
                "anchoring_counts": {
                    key: (figures.get("anchoring") or {}).get(key, 0) for key in ("n_with_suggestion", "n_shown")
                },
            }
        )
    return render(request, "reward/agreement.html", context)


@staff_member_required
def rankings_page(request: HttpRequest) -> HttpResponse:
    """/rankings/: the prompts with clips, each linking to its model ranking."""
    context = {"prompts": prompts_ranked_list(), "active": version_active()}
    return render(request, "reward/prompt_ranking.html", context)


@staff_member_required
def prompt_ranking_page(request: HttpRequest, prompt_id: int) -> HttpResponse:
    """/prompts/<id>/ranking/: one prompt's clips ranked by the active version, per axis."""
    axis = request.GET.get("axis", Axis.OVERALL.value)
    if axis not in RANKING_AXES:
        axis = Axis.OVERALL.value
    try:
        ranking = prompt_ranking(prompt_id=prompt_id, axis=axis)
    except EarshotError as error:
        return render(
            request, "reward/prompt_ranking.html", {"error": error.message, "active": version_active()},
            status=error.status,
        )
    return render(
        request,
        "reward/prompt_ranking.html",
        {"ranking": ranking, "axis": axis, "axis_labels": RANKING_AXES, "active": version_active()},
    )
