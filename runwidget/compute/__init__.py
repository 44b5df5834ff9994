"""Compute targets: where a submitted run executes.

``target`` holds the interface and the records in the store; each kind has one module:
``local`` (a supervisor on this machine) and ``ray`` (a Ray job, followed by ``watch``).
"""

from runwidget.compute.local import LocalCompute
from runwidget.compute.ray import RayCompute
from runwidget.compute.target import (
    ComputeTarget,
    ComputeTargetError,
    cancel_supervised,
    get_target,
    list_targets,
    resolve_target,
)
from runwidget.tracking.providers import PROVIDERS

# What workspaces and runs (in ``tracking``) use of the targets.
PROVIDERS.list_targets = list_targets
PROVIDERS.resolve_target = resolve_target
PROVIDERS.cancel_supervised = cancel_supervised

__all__ = [
    "ComputeTarget",
    "ComputeTargetError",
    "LocalCompute",
    "RayCompute",
    "get_target",
    "list_targets",
    "resolve_target",
]
