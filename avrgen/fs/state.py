"""The server's state folder: what avrgen keeps about a host's deployments outside
output/ and git (releases, the secrets Asterisk reads from files).

`--state DIR` (env `AVRGEN_STATE`) chooses it; the default follows the XDG base
directory convention for a user (`$XDG_STATE_HOME/avrgen`, else
`~/.local/state/avrgen`) and the FHS for root (`/var/lib/avrgen`), as other server
tools do. Every folder avrgen makes in it is private (0700): a release records env key
names, and the telephony secrets are plain text for Asterisk.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ROOT_STATE = Path("/var/lib/avrgen")


def default_state_dir(environ: Mapping[str, str] | None = None, euid: int | None = None) -> Path:
    """Where state goes when `--state` is not given."""
    environ = os.environ if environ is None else environ
    euid = os.geteuid() if euid is None else euid
    if euid == 0:
        return ROOT_STATE
    xdg = environ.get("XDG_STATE_HOME", "")
    if xdg and Path(xdg).is_absolute():  # the spec: a relative value is ignored
        return Path(xdg) / "avrgen"
    return Path.home() / ".local" / "state" / "avrgen"


def private_dir(path: Path) -> Path:
    """`path`, made with its missing parents, mode 0700 (the parents too, where avrgen
    makes them; an existing `path` is set to 0700 as well)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for folder in {path, *missing}:  # mkdir's mode is masked by the umask
        os.chmod(folder, 0o700)
    return path
