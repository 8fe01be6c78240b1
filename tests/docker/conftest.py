"""The docker tests' shared fixtures: `cluster`, three Docker engines as separate hosts in
network namespaces on this machine, in one swarm (tests/cluster.py). Only the tests that ask
for it start it, once a session; it is always taken down again, also when a test fails or
the run is interrupted, and a killed run's leftovers are removed when the next one starts.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cluster
import dockerenv
import pytest

LOCK_FILE = Path(tempfile.gettempdir()) / "avrgen-cluster-tests.lock"
# node 1 manages; the others are workers. Both tenants' nodes are workers
NODE_LABELS = {1: {"tenant": "other"}, 2: {"tenant": "acme"}, 3: {"tenant": "acme"}}


def _unavailable(reason: str) -> None:
    if os.environ.get(dockerenv.MODE_VAR, "").strip().lower() == "required":
        pytest.fail(f"{dockerenv.MODE_VAR}=required, but {reason}", pytrace=False)
    pytest.skip(f"MULTI-NODE TESTS SKIPPED: {reason} (set {dockerenv.MODE_VAR}=required to fail)")


@pytest.fixture(scope="session")
def cluster_nodes() -> Iterator[cluster.Cluster]:
    """A three-node swarm: node 1 the manager, nodes 2 and 3 workers labelled tenant=acme
    (node 1: tenant=other), each with the test images loaded."""
    reason = cluster.why_not() or dockerenv.engine_available()
    if reason:
        _unavailable(reason)
    dockerenv.ensure_test_images()
    with dockerenv.exclusive(LOCK_FILE, minutes=10):
        nodes = cluster.Cluster(3, images=(dockerenv.PROVIDER_IMAGE, dockerenv.CORE_IMAGE))
        try:  # the teardown runs on a failure or Ctrl-C too, before the lock is let go
            try:
                nodes.start()
                nodes.form_swarm(NODE_LABELS)
            except (RuntimeError, AssertionError) as exc:
                pytest.fail(f"cannot bring up the test cluster: {exc}", pytrace=False)
            yield nodes
        finally:
            _stop(nodes)


def _stop(nodes: cluster.Cluster) -> None:
    problems = nodes.stop()
    if problems:
        raise RuntimeError("the test cluster was not taken down whole: " + "; ".join(problems))
