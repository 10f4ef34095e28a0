"""Progress bars for management commands: tqdm bars on the command's stderr, hidden by --no-progress, and closed
whatever happens, fed by the (stage, done, total, figures) callback that training and building code reports to."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import IO, Any

from tqdm import tqdm

# (stage, done, total, figures so far) -> None: how long-running work reports where it is.
Progress = Callable[[str, int, int, Mapping[str, float]], None]

# Counters the bar already shows as its position; they are left out of its figures.
_COUNTERS = frozenset({"epoch", "step"})


def _text_stream(stream: Any) -> IO[str]:
    # A command's self.stderr is an OutputWrapper, which ends every write with a newline; tqdm redraws its line
    # with carriage returns, so it writes to the stream the wrapper wraps.
    return getattr(stream, "_out", stream)


class CountBar(tqdm):
    """A tqdm bar that keeps its stream even while hidden, so `say` prints a line above it either way."""

    def __init__(self, *, stream: IO[str], **options: Any) -> None:
        self.stream = stream
        super().__init__(file=stream, **options)

    def say(self, line: str) -> None:
        self.write(line, file=self.stream)


@contextmanager
def progress_bar(
    *, stream: Any, total: int | None, enabled: bool = True, unit: str = "clip", desc: str | None = None
) -> Iterator[CountBar]:
    """One bar over `total` items (None: set `bar.total` once it is known), shown only when enabled and there is more
    than one item; closed on leaving the block, error or not."""
    hidden = not enabled or (total is not None and total < 2)
    bar = CountBar(stream=_text_stream(stream), total=total, desc=desc, unit=unit, disable=hidden)
    try:
        yield bar
    finally:
        bar.close()


class StageBars:
    """A `Progress` callback that opens one bar per stage the first time the stage reports, moves it to `done` and
    shows the stage's latest figures beside it. Use it as a context manager: every bar closes on exit, error or not.

        with StageBars(stream=self.stderr, enabled=not options["no_progress"]) as progress:
            reward_model_train(..., progress=progress)
    """

    def __init__(self, *, stream: Any, enabled: bool = True, unit: str = "step") -> None:
        self.stream = _text_stream(stream)
        self.enabled = enabled
        self.unit = unit
        self.bars: dict[str, tqdm] = {}

    def __call__(self, stage: str, done: int, total: int, figures: Mapping[str, float]) -> None:
        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(total=total, desc=stage, unit=self.unit, disable=not self.enabled,
                                          file=self.stream)
        bar.update(done - bar.n)
        shown = {key: round(value, 4) for key, value in figures.items() if key not in _COUNTERS}
        if shown:
            bar.set_postfix(shown, refresh=False)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()

    def __enter__(self) -> StageBars:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
