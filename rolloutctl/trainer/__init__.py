"""The mock trainer: the training side of the Remote Rollout Protocol as a tool."""

from rolloutctl.trainer.bus import Subscription
from rolloutctl.trainer.policies import POLICY_NAMES, make_policy
from rolloutctl.trainer.policy_types import Policy, PolicyError, Reply, Turn
from rolloutctl.trainer.starter import InitError, InitRefused, RolloutHandle
from rolloutctl.trainer.trainer import MockTrainer, TrainerConfig
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
