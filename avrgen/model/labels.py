"""The labels avrgen puts on what it creates, and the engine's own it reads."""

from __future__ import annotations

MANAGED_LABEL = "avrgen.managed"
AGENT_LABEL = "avrgen.agent"
ROLE_LABEL = "avrgen.role"
HOST_LABEL = "avrgen.host"  # with `hosts`: the host an agent was rendered for (a move shows)
SET_LABEL = "avrgen.set"  # the blueprint set (settings `set:`, else its lock) that made it
PROJECT_LABEL = "com.docker.compose.project"
STACK_LABEL = "com.docker.stack.namespace"
WORKING_DIR_LABEL = "com.docker.compose.project.working_dir"  # the output folder of `up`
IMAGE_LABEL = "com.docker.compose.image"  # the image id compose created the container from
# on the telephony stack's containers and volume (with MANAGED_LABEL and ROLE_LABEL
# asterisk | ami): the dialplan context; they carry no AGENT_LABEL (they are no agent's)
TELEPHONY_LABEL = "avrgen.telephony"
# sha256 of a container's rendered service (as compose reads it): what `status` and `up`
# compare with the plan instead of asking compose (pipeline/content_hash.py)
CONTENT_HASH_LABEL = "avrgen.content-hash"
