"""Several Docker engines on this machine, each a host of its own (../shared/MULTINODE.md).

Each node `avrt-nN` is a network namespace with the address 10.77.0.N on the bridge
`avrt-br` (10.77.0.254/24, a test range of this machine's own) and its own `dockerd`,
started with `nsenter --net=/run/netns/avrt-nN` (not `ip netns exec`: that remounts /sys
and dockerd finds no cgroups), with its own data root, exec root, pid file and socket
`unix:///run/avrt-nN.sock`. The host's own engine (/var/run/docker.sock) is never touched,
except that the test images are read from it (`docker save`) and loaded into every node.

`Cluster.start()` first removes what an earlier, killed run left (its namespaces, veths,
bridge, iptables rule, the dockerds named by its pid files, their roots), then brings the
nodes up in parallel; `Cluster.stop()` takes everything down again and never raises
(each step is tried on its own). Nothing outside the test range is ever a target.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

PREFIX = "avrt"
BRIDGE = f"{PREFIX}-br"
NET = "10.77.0"
MAX_NODES = 9  # leftovers of earlier runs are looked for up to this many nodes


def run(*args: str, check: bool = True, timeout: float = 60, **kw: object) -> str:
    proc = subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout, check=False, **kw
    )  # type: ignore[call-overload]
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return str(proc.stdout).strip()


def eventually(probe: Callable[[], T | None], timeout: float = 60, what: str = "") -> T:
    """`probe()` until it returns something true; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.5)


def why_not() -> str | None:
    """None when namespaces and engines can be made here, else why not."""
    if os.geteuid() != 0:
        return "not root: network namespaces, veths and dockerd need root"
    for tool in ("ip", "nsenter", "iptables", "dockerd", "docker"):
        if shutil.which(tool) is None:
            return f"no `{tool}` on PATH (apt-get install iproute2 util-linux iptables docker.io)"
    if Path("/run/containerd/containerd.sock").exists():
        # dockerd would share that containerd instead of starting one under its exec root
        return "a system containerd runs at /run/containerd/containerd.sock"
    return None


@dataclass(frozen=True)
class Node:
    index: int
    prefix: str = PREFIX  # another prefix and net: a cluster of its own beside this one
    net: str = NET
    dockerd_args: tuple[str, ...] = ()  # more options for its dockerd (a tcp:// listener)

    @property
    def name(self) -> str:
        return f"{self.prefix}-n{self.index}"

    @property
    def address(self) -> str:
        return f"{self.net}.{self.index}"

    @property
    def veth(self) -> str:
        return f"{self.prefix}-v{self.index}"  # the host's end, on the bridge

    @property
    def bridge(self) -> str:
        return f"{self.prefix}-br"

    @property
    def socket(self) -> Path:
        return Path(f"/run/{self.name}.sock")

    @property
    def host(self) -> str:
        """The DOCKER_HOST of this node's engine."""
        return f"unix://{self.socket}"

    @property
    def pidfile(self) -> Path:
        return Path(f"/run/{self.name}.pid")

    @property
    def data_root(self) -> Path:
        return Path(f"/var/lib/{self.name}")

    @property
    def exec_root(self) -> Path:
        return Path(f"/run/{self.name}")

    @property
    def log(self) -> Path:
        return Path(tempfile.gettempdir()) / f"{self.name}-dockerd.log"

    def docker(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        """`docker -H <this node> ARGS`; its stdout (a failure raises with stderr)."""
        return run("docker", "-H", self.host, *args, check=check, timeout=timeout)

    @property
    def node_id(self) -> str:
        return self.docker("info", "--format", "{{.Swarm.NodeID}}")

    def env(self) -> dict[str, str]:
        """The environment of a process that talks to this node's engine alone."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        return {**env, "DOCKER_HOST": self.host}

    # -- up and down ---------------------------------------------------------------------

    def start(self) -> None:
        netns = f"/run/netns/{self.name}"
        run("ip", "netns", "add", self.name)
        run("ip", "link", "add", self.veth, "type", "veth", "peer", "name", f"{self.veth}p")
        run("ip", "link", "set", f"{self.veth}p", "netns", self.name)
        run("ip", "link", "set", self.veth, "master", self.bridge, "up")
        inside = ("nsenter", f"--net={netns}", "ip")
        run(*inside, "link", "set", f"{self.veth}p", "name", "eth0")
        run(*inside, "addr", "add", f"{self.address}/24", "dev", "eth0")
        run(*inside, "link", "set", "eth0", "up")
        run(*inside, "link", "set", "lo", "up")
        self._dockerd("wb")

    def _dockerd(self, log_mode: str = "ab") -> None:
        netns = f"/run/netns/{self.name}"
        self.data_root.mkdir(parents=True, exist_ok=True)
        with self.log.open(log_mode) as log:
            subprocess.Popen(
                [
                    "nsenter", f"--net={netns}", "dockerd",
                    "--data-root", str(self.data_root), "--exec-root", str(self.exec_root),
                    "--pidfile", str(self.pidfile), "-H", self.host,
                    "--containerd-namespace", self.name,
                    "--containerd-plugins-namespace", f"{self.name}-plugins",
                    *self.dockerd_args,
                ],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        eventually(
            lambda: self.docker("version", "--format", "{{.Server.Version}}", check=False),
            60,
            f"{self.name}'s dockerd to answer (its log: {self.log})",
        )

    def load(self, images: Path) -> None:
        with images.open("rb") as tar:
            run("docker", "-H", self.host, "load", "--quiet", stdin=tar, timeout=120)

    def dockerd_pid(self) -> int | None:
        """The pid in this node's pid file, if that process is a dockerd of this node."""
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        ours = cmdline and cmdline[0].endswith(b"dockerd") and str(self.pidfile).encode() in cmdline
        return pid if ours else None

    def start_dockerd_again(self) -> None:
        """After `kill_dockerd`: the same engine (its data root kept) up again."""
        self._stop_dockerd()
        self._dockerd()

    def kill_dockerd(self) -> None:
        """This node's engine gone (the host is down for its clients), its data kept."""
        self._stop_dockerd()
        self.socket.unlink(missing_ok=True)

    def stop(self) -> list[str]:
        """Take this node down; returns what could not be done (never raises)."""
        problems: list[str] = []
        if self.dockerd_pid() is not None:
            attempt(problems, self.docker, "swarm", "leave", "--force", check=False, timeout=20)
        attempt(problems, self._stop_dockerd)
        attempt(problems, run, "ip", "netns", "del", self.name, check=False)
        attempt(problems, run, "ip", "link", "del", self.veth, check=False)
        attempt(problems, self._remove_roots)
        return problems

    def _stop_dockerd(self) -> None:
        pid = self.dockerd_pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        # what dockerd left: its containerd and shims, each named by this node's exec root
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if str(self.exec_root).encode() + b"/" in cmdline and b"containerd" in cmdline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(proc.name), signal.SIGKILL)

    def _remove_roots(self) -> None:
        roots = (str(self.data_root), str(self.exec_root))
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for mount in sorted((m for m in mounts if m.startswith(roots)), reverse=True):
            run("umount", "-l", mount, check=False)
        for root in (self.data_root, self.exec_root):
            shutil.rmtree(root, ignore_errors=True)
        for path in (self.pidfile, self.socket):
            path.unlink(missing_ok=True)


def attempt(problems: list[str], step: Callable[..., object], *args: object, **kw: object) -> None:
    try:
        step(*args, **kw)
    except Exception as exc:  # teardown goes on; what failed is reported at the end
        problems.append(f"{getattr(step, '__name__', step)}{args}: {exc}")


def alive(pid: int) -> bool:
    """Whether `pid` runs; a dockerd this process started is reaped once it exited."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def parallel(nodes: Sequence[Node], step: Callable[[Node], T]) -> list[T]:
    with ThreadPoolExecutor(max_workers=max(1, len(nodes))) as pool:
        return list(pool.map(step, nodes))


def forward_rule(bridge: str = BRIDGE) -> tuple[str, ...]:
    return ("FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT")


def forward_rule_present(bridge: str = BRIDGE) -> bool:
    rule = forward_rule(bridge)
    return subprocess.run(["iptables", "-C", *rule], capture_output=True).returncode == 0


class Cluster:
    """N engines as separate hosts; node 1 is the first manager once `form_swarm()` ran."""

    def __init__(
        self,
        count: int,
        images: Iterable[str] = (),
        prefix: str = PREFIX,
        net: str = NET,
        dockerd_args: Callable[[Node], Sequence[str]] | None = None,
    ) -> None:
        """`prefix` and `net` (its names and 10.x.y.N addresses) make a cluster of its own;
        `dockerd_args(node)`: more options for each node's dockerd."""
        self.prefix, self.net = prefix, net
        self.bridge = f"{prefix}-br"
        nodes = [Node(i, prefix, net) for i in range(1, count + 1)]
        self.nodes = [
            replace(n, dockerd_args=tuple(dockerd_args(n))) if dockerd_args else n for n in nodes
        ]
        self.images = tuple(images)

    @contextlib.contextmanager
    def running(self, form_swarm: bool = False) -> Iterator[Cluster]:
        """The nodes up (a swarm formed, when asked) for the duration, then taken down
        whatever happened; a failure to come up raises RuntimeError or AssertionError."""
        try:
            self.start()
            if form_swarm:
                self.form_swarm()
            yield self
        finally:
            problems = self.stop()
            if problems:
                raise RuntimeError(
                    "the test cluster was not taken down whole: " + "; ".join(problems)
                )

    @property
    def manager(self) -> Node:
        return self.nodes[0]

    @property
    def workers(self) -> list[Node]:
        return self.nodes[1:]

    def start(self) -> None:
        """Clean up an earlier run's leftovers, then bring every node up (in parallel) with
        the images loaded. On a failure, whatever was made is taken down again."""
        leftovers = self.stop(every=True)
        if leftovers:
            raise RuntimeError("cannot clean up an earlier run: " + "; ".join(leftovers))
        try:
            run("ip", "link", "add", self.bridge, "type", "bridge")
            run("ip", "addr", "add", f"{self.net}.254/24", "dev", self.bridge)
            run("ip", "link", "set", self.bridge, "up")
            # docker's FORWARD policy is DROP and bridged frames pass iptables
            run("iptables", "-I", *forward_rule(self.bridge))
            with tempfile.TemporaryDirectory(prefix=f"{PREFIX}-images-") as folder:
                tar = Path(folder) / "images.tar"
                saving = subprocess.Popen(
                    ["docker", "save", "-o", str(tar), *self.images],
                    env={k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")},
                    stderr=subprocess.PIPE,
                )  # the host's engine; meanwhile the nodes' engines start
                parallel(self.nodes, Node.start)
                if saving.wait(timeout=120) != 0 and self.images:
                    raise RuntimeError(f"docker save failed: {saving.stderr.read().decode()}")  # type: ignore[union-attr]
                if self.images:
                    parallel(self.nodes, lambda node: node.load(tar))
        except BaseException:
            self.stop()
            raise

    def form_swarm(self, labels: dict[int, dict[str, str]] | None = None) -> None:
        """Node 1 inits a swarm, the others join as workers; `labels` by node index."""
        manager = self.manager
        manager.docker("swarm", "init", "--advertise-addr", manager.address)
        token = manager.docker("swarm", "join-token", "--quiet", "worker")
        join = ("swarm", "join", "--advertise-addr")
        parallel(
            self.workers,
            lambda n: n.docker(*join, n.address, "--token", token, f"{manager.address}:2377"),
        )
        ids = parallel(self.nodes, lambda n: n.node_id)
        eventually(
            lambda: (
                manager.docker("node", "ls", "--filter", "role=worker", "-q").split()
                and all(self.node_state(i) == "ready" for i in ids)
            ),
            60,
            "every node ready",
        )
        for index, node_labels in (labels or {}).items():
            added = [f"--label-add={k}={v}" for k, v in node_labels.items()]
            manager.docker("node", "update", *added, ids[index - 1])

    def node_state(self, node_id: str) -> str:
        return self.manager.docker(
            "node", "inspect", node_id, "--format", "{{.Status.State}}", check=False
        )

    def cut(self, node: Node) -> None:
        """Cut `node` off from the others: its link on the bridge down."""
        run("ip", "link", "set", node.veth, "down")

    def reconnect(self, node: Node) -> None:
        run("ip", "link", "set", node.veth, "up")

    def stop(self, every: bool = False) -> list[str]:
        """Take down the nodes (with `every`: any this module's names may have left), the
        bridge and the iptables rule; returns what could not be done (never raises)."""
        every_node = [Node(i, self.prefix, self.net) for i in range(1, MAX_NODES + 1)]
        nodes = every_node if every else self.nodes
        problems = [p for found in parallel(nodes, Node.stop) for p in found]
        if Path(f"/sys/class/net/{self.bridge}").exists():
            attempt(problems, run, "ip", "link", "del", self.bridge)
        while forward_rule_present(self.bridge):
            try:
                run("iptables", "-D", *forward_rule(self.bridge))
            except RuntimeError as exc:
                problems.append(str(exc))
                break
        return problems
