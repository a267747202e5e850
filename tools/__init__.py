"""Deployment tooling: container images to ECR, stack outputs to an env file, offline checks.

Each module is a command: ``python -m tools.images``, ``python -m tools.gen_env``,
``python -m tools.checks.dockerfiles``, ``python -m tools.checks.security``.
"""
