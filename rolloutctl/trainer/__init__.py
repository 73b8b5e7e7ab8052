"""The mock trainer: the training side of the Remote Rollout Protocol as a tool."""

from rolloutctl.errors import InitError, InitRefused, PolicyError
from rolloutctl.trainer.bus import Subscription
from rolloutctl.trainer.config import TrainerConfig
from rolloutctl.trainer.mock import MockTrainer
from rolloutctl.trainer.policies.base import Policy, Reply, Turn
from rolloutctl.trainer.policies.registry import POLICY_NAMES, make_policy
from rolloutctl.trainer.starter import RolloutHandle
from rolloutctl.trainer.violations import Violation

__all__ = [
    "POLICY_NAMES",
    "InitError",
    "InitRefused",
    "MockTrainer",
    "Policy",
    "PolicyError",
    "Reply",
    "RolloutHandle",
    "Subscription",
    "TrainerConfig",
    "Turn",
    "Violation",
    "make_policy",
]
