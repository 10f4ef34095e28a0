"""core.progress: one bar per stage on the command's stderr, figures beside it, every bar closed even on an error."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management.base import OutputWrapper

from core.progress import StageBars, progress_bar


def test_each_stage_gets_its_own_bar_with_its_latest_figures() -> None:
    err = StringIO()
    with StageBars(stream=OutputWrapper(err)) as progress:
        progress("pairs", 50, 100, {})
        progress("pairs", 100, 100, {})
        progress("finetune", 1, 3, {"epoch": 1.0, "holdout_loss": 0.123456})
        assert set(progress.bars) == {"pairs", "finetune"}
        assert progress.bars["pairs"].n == 100 and progress.bars["finetune"].n == 1
    text = err.getvalue()
    assert "pairs" in text and "100/100" in text
    assert "holdout_loss=0.123" in text and "epoch=" not in text  # the epoch is the bar's own position
    assert progress.bars == {}


def test_every_bar_closes_when_the_work_fails() -> None:
    bars = StageBars(stream=StringIO())
    with pytest.raises(ValueError, match="stop"), bars:
        bars("render", 1, 10, {})
        bars("pairs", 1, 10, {})
        opened = list(bars.bars.values())
        raise ValueError("stop")
    assert bars.bars == {} and all(bar.disable for bar in opened)  # tqdm marks a closed bar disabled


def test_no_progress_writes_nothing() -> None:
    err = StringIO()
    with StageBars(stream=err, enabled=False) as progress:
        progress("pretrain", 5, 10, {"loss": 0.5})
    assert err.getvalue() == ""


def test_a_count_bar_is_hidden_for_one_item_or_when_disabled_and_still_says_its_lines() -> None:
    for total, enabled in ((1, True), (5, False)):
        err = StringIO()
        with progress_bar(stream=OutputWrapper(err), total=total, enabled=enabled) as bar:
            bar.update(1)
            bar.say("refused  line 1: bad.wav")
        assert err.getvalue() == "refused  line 1: bad.wav\n"
    err = StringIO()
    with progress_bar(stream=err, total=3, desc="scoring") as bar:
        bar.update(3)
    assert "scoring" in err.getvalue() and "3/3" in err.getvalue()
