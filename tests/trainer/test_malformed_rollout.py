"""A rollout whose agent sends the trainer malformed messages ends at once, not in a hang."""

from __future__ import annotations

import subprocess
import textwrap

from tests.helpers import CLI_BOUND, rolloutctl_bin


def test_junk_tool_calls_end_the_rollout_with_a_client_error(tmp_path):
    agent = tmp_path / "junk.py"
    agent.write_text(
        textwrap.dedent("""
        from rolloutctl import ToolLoopAgent

        class Junk(ToolLoopAgent):
            name = "junk"

            async def run(self, ctx):
                junk = {"role": "assistant", "content": None, "tool_calls": "junk"}
                await ctx.chat([*ctx.messages, junk, {"role": "user", "content": "again"}])
                return await super().run(ctx)

        agent = Junk()
    """)
    )
    result = subprocess.run(
        [rolloutctl_bin(), "try", f"{agent}:agent", "--plain", "--prompt", "What is 1 + 1?"],
        capture_output=True,
        text=True,
        timeout=CLI_BOUND,
    )
    assert result.returncode == 1, result.stderr
    out = " ".join((result.stdout + result.stderr).split())
    assert "trainer_client_error" in out
    assert "400" in out and "messages[1].tool_calls: must be a list of objects" in out
    assert "Traceback" not in out and "Internal Server Error" not in out
