"""A rich progress bar over the black-box trainings of a search."""

from __future__ import annotations

from typing import Any


class TrialProgress:
    """A rich progress bar over counted trials (no-op when disabled)."""

    def __init__(self, total: int, done: int, *, enabled: bool) -> None:
        self.enabled = enabled
        self.total, self.done = total, done

    def __enter__(self) -> TrialProgress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self._p = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                               TimeElapsedColumn(), transient=False)  # fmt: skip
            self._p.__enter__()
            self._task = self._p.add_task("black-box trainings", total=self.total, completed=self.done)
        return self

    def update(self, done: int) -> None:
        if self.enabled:
            self._p.update(self._task, completed=min(done, self.total))

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self._p.__exit__(*exc)
