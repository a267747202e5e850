"""The embedded local cloud: the whole SAM template on one machine, no AWS account, no Docker.

AWS APIs come from moto's server (in-process); Lambda functions run from their ``Handler`` and
``CodeUri`` in per-function worker processes, driven by their real event sources; ECS tasks and
services run their container's command as local processes; API Gateway REST and WebSocket APIs
are served on local ports. Everything is read from ``template.yaml``: nothing is declared twice.
"""

__version__ = "0.1.0"
