"""Progress bars on a terminal, silence in CI logs."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], *, total: int | None = None, desc: str = "") -> Iterator[T]:
    """Wrap `items` in a tqdm bar when stderr is a terminal; otherwise yield them unchanged."""
    if not sys.stderr.isatty():
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, total=total, desc=desc, leave=False, dynamic_ncols=True)


class Bar:
    """A tqdm bar on a terminal, nothing elsewhere: `advance(n)`, `describe(text)`, then `close()`."""

    def __init__(self, total: float, desc: str, unit: str = "it") -> None:
        self._bar: Any = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True,
                             bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} {unit} [{elapsed}<{remaining}]{postfix}")

    def advance(self, amount: float) -> None:
        if self._bar is not None:
            self._bar.update(amount)

    def describe(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def note(message: str) -> None:
    """Write one line to stderr without tearing a progress bar that is on screen."""
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)
