"""Everything that talks to Docker: compose, swarm, secrets at run time."""
