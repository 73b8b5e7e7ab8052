"""The windowed unified diff: difflib's own output when the lines fit one window, a valid
diff of every line when they do not; and the streamed reading of a trajectory file
diffs as the whole document does."""

from __future__ import annotations

import difflib
import random

import pytest

from rolloutctl.trajectory import linediff
from rolloutctl.trajectory.diff import diff_sides, diff_trajectories
from rolloutctl.trajectory.document import blank_trajectory, load_trajectory, save_trajectory
from rolloutctl.trajectory.stream import stream_trajectory


def patched(a: list[str], diff: list[str]) -> list[str]:
    """b rebuilt from a and a unified diff of a and b, checking every line of a it names."""
    out: list[str] = []
    at = 0
    assert not diff or diff[:2] == ["--- A", "+++ B"]
    for line in diff[2:]:
        if line.startswith("@@ "):
            start, _, length = line.split()[1][1:].partition(",")
            skip_to = int(start) - (1 if length != "0" else 0)
            out, at = out + a[at:skip_to], skip_to
        elif line[0] in " -":
            assert a[at] == line[1:]
            at += 1
        if line[0] in " +":
            out.append(line[1:])
    return out + a[at:]


def random_lines(rng: random.Random, count: int, alphabet: int) -> list[str]:
    return [str(rng.randrange(alphabet)) for _ in range(count)]


def test_lines_within_a_window_diff_exactly_as_difflib():
    rng = random.Random(1)
    for _ in range(800):
        alphabet = rng.choice([3, 10, 50])
        a = random_lines(rng, rng.randint(0, 60), alphabet)
        b = random_lines(rng, rng.randint(0, 60), alphabet)
        expected = list(difflib.unified_diff(a, b, "A", "B", lineterm="", n=2))
        assert list(linediff.unified_diff(a, b, n=2)) == expected


def test_lines_over_many_windows_and_spool_batches_give_a_valid_diff(monkeypatch):
    for name, value in {"WINDOW_LINES": 8, "MAX_LINES": 32, "_BATCH": 5}.items():
        monkeypatch.setattr(linediff, name, value)
    monkeypatch.setattr(linediff, "SPOOL_BYTES", 200)  # hunks roll over to a file
    rng = random.Random(2)
    for _ in range(400):
        a = random_lines(rng, rng.randint(0, 200), rng.choice([3, 50, 1000]))
        if rng.random() < 0.5:
            b = random_lines(rng, rng.randint(0, 200), 50)
        else:
            b = [line if rng.random() < 0.8 else "changed" for line in a]
        diff = list(linediff.unified_diff(a, b, n=2))
        assert patched(a, diff) == b and (diff == []) == (a == b)


def turn(index: int, added: list[dict], content: str) -> dict:
    call = {"id": f"c{index}", "function": {"name": "add", "arguments": '{"a": 1}'}}
    reply = {"role": "assistant", "content": content, "tool_calls": [call]}
    usage = {"prompt_tokens": index, "completion_tokens": 1}
    return {"index": index, "added": added, "assistant": reply, "usage": usage}


def trajectory(turns: int, word: str, final: str) -> dict:
    traj = blank_trajectory("r") | {"completion": {"status": "COMPLETED", "reward": 0.5}}
    for index in range(1, turns + 1):
        result = {"role": "tool", "tool_call_id": f"c{index - 1}", "content": f"{index} {word}"}
        added = [result] if index > 1 else [{"role": "user", "content": "go\nnow"}]
        traj["turns"].append(turn(index, added, f"{word} {index % 7}"))
    traj["final_added"] = [{"role": "tool", "tool_call_id": f"c{turns}", "content": final},
                           {"role": "assistant", "content": final}]  # fmt: skip
    return traj


def text(traj: dict) -> list[str]:
    """The lines `diff` compares of a trajectory: those it adds to an empty one."""
    return [line[1:] for line in diff_trajectories(blank_trajectory(), traj).lines[3:]]


SHAPES = [  # (turns, word, final message) of A and of B
    ((30, "x", "end"), (30, "x", "end")),
    ((30, "x", "end"), (30, "x", "END")),
    ((30, "x", "end"), (31, "x", "end")),
    ((5, "x", "e"), (40, "y", "e")),
    ((400, "x", "end"), (400, "y", "end")),
    ((300, "x", "end"), (500, "y", "END")),
]


@pytest.mark.parametrize(("left", "right"), SHAPES)
def test_a_streamed_file_diffs_as_its_loaded_document(tmp_path, left, right):
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for path, shape in zip(paths, (left, right), strict=True):
        save_trajectory(path, trajectory(*shape))
    loaded = [load_trajectory(path) for path in paths]
    expected = diff_trajectories(*loaded)
    sides = [stream_trajectory(path) for path in paths]
    assert sides[0] is not None and sides[1] is not None
    result, lines = diff_sides(sides[0], sides[1])
    assert (result.first_difference, result.summary) == (
        expected.first_difference,
        expected.summary,
    )
    streamed = list(lines)
    if left[0] + right[0] < 60:  # the lines fit one window
        assert streamed == expected.lines
    elif left[1] != right[1]:  # they differ from the first turn on
        assert patched(text(loaded[0]), streamed) == text(loaded[1])
