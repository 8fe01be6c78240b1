"""An engine reached over ssh, as docker's `ssh://user@host` transport reaches one: an sshd of
the test's own in a cluster node's network namespace (tests/cluster.py), listening on the
node's address, key-only, for this test's key alone.

docker's transport runs `ssh user@host -- docker system dial-stdio`, and the far end's
docker CLI talks to its default engine. Here the far end shares this machine's file
system, where the default engine is the machine's own, so the key's forced command names
the node's engine (`docker -H unix://<node socket> system dial-stdio`). The client side
is a `ssh` on PATH that adds `-F <this test's ssh_config>` (OpenSSH reads ~/.ssh of the
user's passwd entry, never $HOME): the machine's own ssh configuration is not touched.
Needs /usr/sbin/sshd (Debian's openssh-server; .ci/run installs it without starting it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cluster import Node, eventually

SSHD = Path("/usr/sbin/sshd")


def why_not() -> str | None:
    """Why no ssh engine can be made here (None: it can)."""
    if not SSHD.is_file():
        return "no /usr/sbin/sshd (apt-get install openssh-server): the ssh host needs it"
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "no ssh / ssh-keygen on PATH (apt-get install openssh-client)"
    return None


@contextmanager
def ssh_engine(node: Node, folder: Path) -> Iterator[dict[str, str]]:
    """sshd on `node`'s address, port 22, while the context lasts; yields the environment
    additions (PATH) under which `docker -H ssh://root@<address>` reaches the node's engine."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("client_key", "host_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
    public = (folder / "client_key.pub").read_text(encoding="utf-8").strip()
    dial = f"docker -H unix://{node.socket} system dial-stdio"
    authorized = folder / "authorized_keys"
    authorized.write_text(f'command="{dial}",restrict {public}\n', encoding="utf-8")
    authorized.chmod(0o600)
    server = folder / "sshd_config"
    server.write_text(
        f"ListenAddress {node.address}\nPort 22\nHostKey {folder / 'host_key'}\n"
        f"AuthorizedKeysFile {authorized}\nPidFile {folder / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nPermitRootLogin prohibit-password\n",
        encoding="utf-8",
    )
    client = folder / "ssh_config"
    client.write_text(
        f"Host {node.address}\n  IdentityFile {folder / 'client_key'}\n  IdentitiesOnly yes\n"
        "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n",
        encoding="utf-8",
    )
    bin_folder = folder / "bin"
    bin_folder.mkdir(exist_ok=True)
    wrapper = bin_folder / "ssh"
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {client} "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation folder
    log = (folder / "sshd.log").open("wb")
    netns = f"--net=/run/netns/{node.name}"
    sshd = subprocess.Popen(
        ["nsenter", netns, str(SSHD), "-D", "-e", "-f", str(server)],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    env = {"PATH": f"{bin_folder}{os.pathsep}{os.environ.get('PATH', '')}"}
    try:
        eventually(
            lambda: b"Server listening" in (folder / "sshd.log").read_bytes(),
            timeout=20,
            what=f"sshd on {node.address}",
        )
        yield env
    finally:
        sshd.terminate()
        try:
            sshd.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sshd.kill()
            sshd.wait(timeout=10)
        log.close()
