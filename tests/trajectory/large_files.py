"""Large trajectory files made fast, for the bounded-memory test of `diff` and its benchmark.

Each turn adds a user message and gets an assistant reply, both `chars` long; the two
files of a pair differ from the first turn on, so that all of both ends up in the diff.
A turn is encoded once per file with a placeholder for its index, so a 200 MB file takes
seconds to write.
"""

from __future__ import annotations

import json
from pathlib import Path

from rolloutctl.trajectory.document import blank_trajectory, new_turn


def write_trajectory(path: Path, size: int, chars: int, word: str) -> int:
    """A trajectory of about `size` bytes at `path`; returns its turns."""
    text = (word + " ") * (chars // (len(word) + 1))
    user = {"role": "user", "content": text}
    reply = {"role": "assistant", "content": text[::-1]}
    turn = new_turn(0, [user]) | {"assistant": reply, "latency_ms": 1.5}
    turn["usage"] = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    template = json.dumps(turn).replace('"index": 0', '"index": %d')
    turns = max(1, size // len(template))
    head, tail = json.dumps(blank_trajectory("big")).split('"turns": []')
    with path.open("w", encoding="utf-8") as file:
        file.write(head + '"turns": [' + template % 1)
        for index in range(2, turns + 1):
            file.write(",\n" + template % index)
        file.write("]" + tail)
    return turns
