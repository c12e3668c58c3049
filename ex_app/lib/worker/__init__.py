"""The job worker (worker.py), the per-job pipeline (pipeline.py) and the retry policy (retry.py)."""

from .retry import Decision, RetryPolicy
from .worker import GatewayFactory, Worker

__all__ = ["Decision", "GatewayFactory", "RetryPolicy", "Worker"]
