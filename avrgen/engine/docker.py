"""The Docker Engine as compose.py and swarm.py both reach it: the client, the checks that
there is an engine at all, progress reporting, and docker's error text made short.

Docker's failures are told in avrgen's words, with the last line of docker's own text as
the reason: that line names the cause (`permission denied`, `no such image`, ...), the
lines before it repeat the command.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avrgen.engine.interrupt import Interruption
from avrgen.errors import ComposeError

if TYPE_CHECKING:  # python-on-whales is imported where a client is used, not for a listing
    from python_on_whales import DockerClient
    from python_on_whales.exceptions import DockerException

    from avrgen.model.blueprint import Host  # pydantic's models: not for a listing
    from avrgen.model.endpoint import Endpoint

ROLE_ORDER = ("asr", "llm", "tts", "sts", "core")
LOG_LINES = 15  # lines of a failing container's log shown in an error
EXIT_STATUS = re.compile(r"exit status \d+")

Progress = Callable[[str, str], None]  # (agent, message)
Redact = Callable[[str], str]


@dataclass
class AgentOutcome:
    """What `up` or `deploy` did for one agent; AgentUp and AgentDeploy add what runs."""

    agent: str
    status: str  # started | deployed | unchanged | failed
    seconds: float


class Engine:
    """One Docker Engine, reached through the `docker` CLI, and where progress is told: the
    default one (DOCKER_HOST or the current context), or one of the settings' `hosts`."""

    def __init__(
        self,
        progress: Progress | None = None,
        host: tuple[str, Host | Endpoint] | None = None,
        interruption: Interruption | None = None,
    ) -> None:
        self.host_name: str | None = host[0] if host else None  # None: the default engine
        self.endpoint: str | None = host[1].docker if host else None
        self._host = host[1] if host else None
        self.cli = ["docker"]  # the docker CLI as command() calls it
        self._compose_found = False  # `docker compose version` answered
        self._tls = self._host.tls if self._host else None
        self._progress = progress
        self._lock = threading.Lock()  # agents come up in threads; one message at a time
        # shared by the engines of several hosts: one signal stops them all
        self.interruption = interruption or Interruption()

    @cached_property
    def client(self) -> DockerClient:
        """python-on-whales's client of this engine, made on first use: listings and
        inspects run the docker CLI directly, without importing it."""
        return client_for(self._host)

    @property
    def where(self) -> str:
        """`host 'edge-1' (ssh://ops@10.0.0.11)`, for messages; "" for the default engine."""
        return f"host {self.host_name!r} ({self.endpoint})" if self.host_name else ""

    def compose_client(
        self, compose_file: Path, project: str, overrides: Sequence[Path] = ()
    ) -> DockerClient:
        """A client for `docker compose` on this engine, of one file (and `overrides`
        merged over it) as one project."""
        self.require_compose()
        return client_for(self._host, [compose_file, *(o.resolve() for o in overrides)], project)

    def require_compose(self) -> None:
        """Fail with a clear message when the compose plugin is missing; asked once, before
        the first compose command (an `up` of agents in sync runs none)."""
        if self._compose_found:
            return
        missing = self.failure("compose", "version")
        if missing is not None:
            raise ComposeError(
                "the Docker Compose v2 plugin is missing (`docker compose version` failed: "
                f"{missing}); install it as ~/.docker/cli-plugins/docker-compose"
            )
        self._compose_found = True

    def say(self, agent: str, message: str) -> None:
        if self._progress is not None:
            with self._lock:
                self._progress(agent, message)

    def command(self, *args: str) -> list[str]:
        """The `docker` command line for `args` on this engine, as `client` runs them."""
        return [*self.cli, *docker_flags(self._host), *args]

    def output(self, *args: str, doing: str) -> str:
        """What `docker ARGS` prints on this engine, run directly (no python-on-whales
        objects to build); a failure is `cannot <doing>: <docker's reason>`."""
        proc = self._run(args)
        if isinstance(proc, OSError):  # no docker CLI: checked_on_failure() says so
            raise ComposeError(f"cannot {doing}: {proc}")
        if proc.returncode != 0:
            raise ComposeError(f"cannot {doing}: {reason(proc.stderr, proc.returncode)}")
        return proc.stdout

    def inspected(
        self, *args: str, doing: str, missing: re.Pattern[str]
    ) -> list[dict[str, Any]] | None:
        """The objects `docker ARGS` (an inspect) prints as JSON; None when docker's reason
        matches `missing` (an object does not exist)."""
        found, all_there = self._inspect(args, doing, missing)
        return found if all_there else None

    def existing(self, *args: str, doing: str, missing: re.Pattern[str]) -> list[dict[str, Any]]:
        """Those of the objects `docker ARGS` (an inspect of several) asks for that exist:
        docker prints them, then fails with a reason matching `missing` for the others."""
        return self._inspect(args, doing, missing)[0]

    def _inspect(
        self, args: Sequence[str], doing: str, missing: re.Pattern[str]
    ) -> tuple[list[dict[str, Any]], bool]:
        """The objects printed, and whether every one asked for was there."""
        proc = self._run(args)
        if isinstance(proc, OSError):
            raise ComposeError(f"cannot {doing}: {proc}")
        all_there = proc.returncode == 0
        if not all_there:
            why = reason(proc.stderr, proc.returncode)
            if not missing.search(why):
                raise ComposeError(f"cannot {doing}: {why}")
        try:
            found = json.loads(proc.stdout or ("[]" if not all_there else ""))
        except json.JSONDecodeError:
            found = None
        if not isinstance(found, list):
            raise ComposeError(f"cannot {doing}: docker printed no JSON list")
        return [each for each in found if isinstance(each, dict)], all_there

    def failure(self, *args: str) -> str | None:
        """Why `docker ARGS` fails on this engine; None when it succeeds."""
        proc = self._run(args)
        if isinstance(proc, OSError):
            return str(proc)
        return reason(proc.stderr, proc.returncode) if proc.returncode != 0 else None

    def _run(self, args: Sequence[str]) -> subprocess.CompletedProcess[str] | OSError:
        try:
            return subprocess.run(
                self.command(*args), capture_output=True, text=True, errors="replace", check=False
            )
        except OSError as exc:
            return exc

    def check(self, compose: bool = True) -> None:
        """Fail with a clear message when there is no engine (or no compose plugin)."""
        if shutil.which(self.cli[0]) is None:
            raise ComposeError(
                "the docker CLI is not installed (no `docker` on PATH); install Docker Engine"
            )
        if self._tls is not None:
            tls = self._tls
            for field, path in (("ca", tls.ca), ("cert", tls.cert), ("key", tls.key)):
                if not os.path.isfile(path):
                    raise ComposeError(f"{self.where}: its TLS file tls.{field} {path} is missing")
        unreachable = self.failure("version", "--format", "{{.Server.Version}}")
        if unreachable is not None:
            if self.host_name is not None:
                raise ComposeError(f"{self.where}: no Docker Engine reachable: {unreachable}")
            host = os.environ.get("DOCKER_HOST")
            where = f" at DOCKER_HOST={host}" if host else " (is dockerd running?)"
            raise ComposeError(f"no Docker Engine reachable{where}: {unreachable}")
        if compose:
            self.require_compose()

    @contextmanager
    def checked_on_failure(self, compose: bool = False) -> Iterator[None]:
        """Engine calls without `check` first (one docker process less): when one fails,
        `check` says whether there is an engine (or compose) at all, else its error stands."""
        try:
            yield
        except Exception:  # also no docker CLI at all (OSError, python-on-whales' own)
            self.check(compose)
            raise

    def answers(self) -> bool:
        """True when the engine answers now (after a failure: was it the engine?)."""
        return self.failure("version", "--format", "{{.Server.Version}}") is None


def docker_flags(host: Host | Endpoint | None) -> list[str]:
    """The docker CLI's options that reach one of `hosts` (None: the default engine), the
    same ones `client_for` gives python-on-whales."""
    if host is None:
        return []
    if host.is_context:
        return ["--context", host.docker]
    tls = host.tls
    if tls is None:
        return ["--host", host.docker]
    paths = ["--tlscacert", tls.ca, "--tlscert", tls.cert, "--tlskey", tls.key]
    return ["--host", host.docker, *paths, "--tlsverify"]


def client_for(
    host: Host | Endpoint | None, compose_files: Sequence[Path] = (), project: str | None = None
) -> DockerClient:
    """The client of one of `hosts` (None: the default engine): docker's --context for a
    context name, else --host, with --tlsverify and the client's files for a TLS engine;
    with `compose_files`, for `docker compose` on them as project `project`."""
    from python_on_whales import DockerClient

    compose = {"compose_files": list(compose_files), "compose_project_name": project}
    if host is None:
        return DockerClient(**compose)  # type: ignore[arg-type]
    if host.is_context:
        return DockerClient(context=host.docker, **compose)  # type: ignore[arg-type]
    tls = host.tls
    if tls is None:
        return DockerClient(host=host.docker, **compose)  # type: ignore[arg-type]
    return DockerClient(
        host=host.docker,
        tlsverify=True,
        tlscacert=tls.ca,
        tlscert=tls.cert,
        tlskey=tls.key,
        **compose,  # type: ignore[arg-type]
    )


def role_rank(role: str) -> int:
    """Where a role stands in listings: providers in pipeline order, then core."""
    return ROLE_ORDER.index(role) if role in ROLE_ORDER else len(ROLE_ORDER)


def last_line(exc: DockerException) -> str:
    """The line of docker's error text that names the cause."""
    text = getattr(exc, "stderr", None) or getattr(exc, "stdout", None) or str(exc)
    return reason(text, getattr(exc, "return_code", "?"))


def reason(text: str, status: object) -> str:
    """The last line of a failed docker command's text (its exit status without one)."""
    # the docker CLI ends some errors with its own `exit status N` line, which names nothing
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not EXIT_STATUS.fullmatch(line.strip())
    ]
    return lines[-1] if lines else f"exit status {status}"


def tail(lines: list[str], count: int) -> str:
    """The last `count` lines of a command's output, indented under a message."""
    return "\n".join(f"  {line.strip()}" for line in lines[-count:])


def last_lines(text: object, count: int = LOG_LINES) -> list[str]:
    """The last `count` non-blank lines of a log."""
    return [line for line in str(text).splitlines() if line.strip()][-count:]


def quoted_log(
    lines: Iterable[str], redact: Redact, empty: str | None = "(no output)"
) -> list[str]:
    """A log's lines as quoted under a container in an error message, a run of one line
    repeated (a crash loop logs the same error at each start) once with its count; `empty`
    stands in for a log without any (None: nothing)."""
    shown = [
        f"{line} (x{count})" if (count := len(list(run))) > 1 else line
        for line, run in groupby(lines)
    ]
    shown = shown or ([empty] if empty is not None else [])
    return [f"    | {redact(line)}" for line in shown]
