"""Which swarm task `deploy` reports as the fault of a service, and how nodes are named
(no Docker needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from avrgen.engine.services import Task, newest_fault, node_names

START = datetime(2026, 1, 1, tzinfo=UTC)


def task(minutes: int, state: str, err: str | None = None) -> Task:
    at = START + timedelta(minutes=minutes)
    return Task(f"t{minutes}", at, state, err, "running", "node", "img", at)


def test_a_running_service_has_no_fault() -> None:
    failed, running = task(1, "failed", "exit 1"), task(2, "running")
    assert newest_fault([failed, running], START, running) is None


def test_the_newest_failure_since_the_deploy() -> None:
    old, new, current = task(-5, "failed", "old"), task(2, "rejected", "new"), task(3, "starting")
    assert newest_fault([old, new, current], START, current) == new
    assert newest_fault([old, current], START, current) is None


def test_a_task_no_node_can_take_is_the_fault_itself() -> None:
    pending = task(1, "pending", "no suitable node (scheduling constraints not satisfied)")
    assert newest_fault([pending], START, pending) == pending


def test_nodes_are_named_by_hostname_with_the_id_where_hostnames_repeat() -> None:
    """Three nodes cloned from one VM all say `vm`: which one runs a task shows by its id."""
    names = node_names(
        [("a1b2c3d4e5f6g7h8", "vm"), ("z9y8x7w6v5u4t3s2", "vm"), ("q1w2e3r4t5y6", "edge-1")]
    )
    assert names == {
        "a1b2c3d4e5f6g7h8": "vm/a1b2c3d4e5f6",
        "z9y8x7w6v5u4t3s2": "vm/z9y8x7w6v5u4",
        "q1w2e3r4t5y6": "edge-1",
    }
    assert node_names([("a1b2c3d4e5f6g7h8", "vm")]) == {"a1b2c3d4e5f6g7h8": "vm"}
