"""The logs of an agent's containers: merged by time, or followed as they come."""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from avrgen.engine.containers import ContainerStatus
from avrgen.engine.docker import Engine, last_line
from avrgen.errors import ComposeError


@dataclass(frozen=True)
class LogLine:
    container: str
    role: str
    text: str


def logs(
    engine: Engine, statuses: Sequence[ContainerStatus], follow: bool, tail: int | None
) -> Iterator[LogLine]:
    """Log lines of these containers: merged by time, or as they come with `follow`."""
    if follow:
        yield from _follow(engine, statuses, tail)
        return
    stamped: list[tuple[str, int, LogLine]] = []
    for index, status in enumerate(statuses):
        for stamp, text in _read_log(engine, status.name, tail):
            stamped.append((stamp, index, LogLine(status.name, status.role, text)))
    stamped.sort(key=lambda item: (item[0], item[1]))
    yield from (line for _, _, line in stamped)


def _follow(
    engine: Engine, statuses: Sequence[ContainerStatus], tail: int | None
) -> Iterator[LogLine]:
    """`docker logs --follow` of each container, lines interleaved as they come; the
    processes are ended when the caller stops (Ctrl-C, or closing the iterator)."""
    lines: queue.Queue[LogLine | None] = queue.Queue()
    processes: list[subprocess.Popen[str]] = []

    def pump(status: ContainerStatus, process: subprocess.Popen[str]) -> None:
        try:
            assert process.stdout is not None  # stdout=PIPE
            for raw in process.stdout:
                lines.put(LogLine(status.name, status.role, raw.rstrip("\n")))
        finally:
            lines.put(None)

    try:
        for status in statuses:
            command = engine.command("logs", "--follow")
            if tail is not None:
                command += ["--tail", str(tail)]
            process = subprocess.Popen(
                [*command, status.id or status.name],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                errors="replace",
            )
            processes.append(process)
            threading.Thread(target=pump, args=(status, process), daemon=True).start()
        open_streams = len(processes)
        while open_streams:
            item = lines.get()
            if item is None:
                open_streams -= 1
            else:
                yield item
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)


def _read_log(engine: Engine, container: str, tail: int | None) -> Iterator[tuple[str, str]]:
    """(timestamp, text) of each line of a container's log so far."""
    from python_on_whales.exceptions import DockerException

    try:
        stream = engine.client.container.logs(container, tail=tail, timestamps=True, stream=True)
        assert not isinstance(stream, str)  # stream=True gives (source, bytes) pairs
        for _, raw in stream:
            stamp, _, text = raw.decode(errors="replace").rstrip("\n").partition(" ")
            yield stamp, text
    except DockerException as exc:
        raise ComposeError(f"cannot read the logs of {container}: {last_line(exc)}") from None
