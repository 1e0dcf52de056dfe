"""Something done every so often on a thread of its own, while a block runs."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Periodically:
    """Calls ``action`` every ``every`` seconds on a daemon thread while in use (a
    context manager); on leaving, stops the thread and waits for it."""

    def __init__(self, action: Callable[[], None], every: float) -> None:
        self.action = action
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Periodically:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.action()
