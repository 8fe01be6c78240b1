"""The result types of the use cases, under one name for their callers (the CLI names
them in its annotations; some are the engine's own dataclasses)."""

from __future__ import annotations

from avrgen.app.diff import FileDiff, PlanDiff, PortChange
from avrgen.app.importer import ImportResult
from avrgen.app.lifecycle import DownResult, UpResult
from avrgen.app.render import RenderResult
from avrgen.app.status import AgentStatus, ChangedUp, StatusReport
from avrgen.app.telephony import TelephonyStatus, TelephonyUp
from avrgen.engine.compose import AgentUp, ContainerStatus, LogLine
from avrgen.engine.differences import Difference
from avrgen.engine.swarm import AgentDeploy, DeployResult, TaskStatus, UndeployResult
from avrgen.pipeline.cache import PlanView
from avrgen.pipeline.validate import Validated

__all__ = [
    "AgentDeploy",
    "AgentStatus",
    "AgentUp",
    "ChangedUp",
    "ContainerStatus",
    "DeployResult",
    "Difference",
    "DownResult",
    "FileDiff",
    "ImportResult",
    "LogLine",
    "PlanDiff",
    "PlanView",
    "PortChange",
    "RenderResult",
    "StatusReport",
    "TaskStatus",
    "TelephonyStatus",
    "TelephonyUp",
    "UndeployResult",
    "UpResult",
    "Validated",
]
