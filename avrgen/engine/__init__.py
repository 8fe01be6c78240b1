"""Everything that talks to Docker: compose, swarm, secrets at run time.

The app layer holds `compose.Docker` (the compose target) or `swarm.Swarm` (the swarm
target); behind them, one module a job:

- docker: the engine itself (client, checks, progress) and docker's error text made short
- containers, network, ports: an agent's containers by their labels, the shared network,
  published host ports
- up, failures, logs: `docker compose up --wait` and why it failed; logs merged or followed
- services, deploy: swarm services and tasks by their labels; `docker stack deploy` and
  its faults
- drift: running containers against the plan (`avrgen status`)
- secrets: the values `up` and `deploy` need, and the one redactor
"""
