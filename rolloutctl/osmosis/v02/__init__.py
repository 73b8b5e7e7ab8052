"""The Osmosis SDK 0.2 agent API on rolloutctl: change one import line and serve.

An agent module written for `osmosis_ai.rollout` 0.2 runs unchanged but for::

    from rolloutctl.osmosis.v02 import RolloutAgentLoop, RolloutContext, ...

and is then a target of `serve`, `try`, `validate`, `check` and `bench`, as
`file.py:MyLoop` (the class), `file.py:app` (`create_app(MyLoop())`) or an instance.
"""

from rolloutctl.agent.context import RolloutMetrics
from rolloutctl.osmosis.v02.loop import (
    LoopAgent,
    RolloutAgentLoop,
    RolloutContext,
    RolloutResult,
    create_app,
)
from rolloutctl.osmosis.v02.models import (
    CompletionsResult,
    OpenAIFunctionParametersSchema,
    OpenAIFunctionPropertySchema,
    OpenAIFunctionSchema,
    OpenAIFunctionToolSchema,
    RolloutRequest,
)

__all__ = [
    "CompletionsResult",
    "LoopAgent",
    "OpenAIFunctionParametersSchema",
    "OpenAIFunctionPropertySchema",
    "OpenAIFunctionSchema",
    "OpenAIFunctionToolSchema",
    "RolloutAgentLoop",
    "RolloutContext",
    "RolloutMetrics",
    "RolloutRequest",
    "RolloutResult",
    "create_app",
]
