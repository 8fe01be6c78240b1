"""Ctrl-C and SIGTERM while agents start: told to every `docker compose` avrgen runs.

A terminal's Ctrl-C reaches the whole process group, but a SIGTERM from a service manager
or `kill` reaches avrgen alone: its `docker compose up --wait` children would go on, with
no one reading them, after avrgen and its locks are gone. While agents start, avrgen
catches both, forwards the signal to each child it runs, lets them end, starts nothing
more, and reports what each agent reached.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interruption:
    """The first signal received while catching (None: none), and the children to tell."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._children: set[subprocess.Popen[str]] = set()
        self._lock = threading.RLock()  # the handler runs on the main thread, between bytecodes

    @property
    def name(self) -> str:
        return signal.Signals(self.signal).name if self.signal is not None else ""

    @contextmanager
    def catching(self) -> Iterator[None]:
        """Catch SIGINT and SIGTERM for the duration (only the main thread may)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        before = {sig: signal.signal(sig, self._received) for sig in SIGNALS}
        try:
            yield
        finally:
            for sig, handler in before.items():
                signal.signal(sig, handler)

    @contextmanager
    def child(self, process: subprocess.Popen[str]) -> Iterator[None]:
        """Tell `process` of a signal received while it runs (or before it started)."""
        with self._lock:
            self._children.add(process)
            if self.signal is not None:
                process.send_signal(self.signal)
        try:
            yield
        finally:
            with self._lock:
                self._children.discard(process)

    def _received(self, signum: int, frame: FrameType | None) -> None:
        with self._lock:
            if self.signal is None:
                self.signal = signum
            for process in self._children:
                if process.poll() is None:
                    process.send_signal(signum)
