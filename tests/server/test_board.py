"""The worker board of `serve --workers N`: rows in shared memory, written by the
supervisor and by each worker, read by any worker."""

from __future__ import annotations

from rolloutctl.server.board import WorkerBoard


def beat_as(board: WorkerBoard, index: int) -> None:
    """Worker `index`'s heartbeat (in one process here: the board is the same memory)."""
    mine, board.index = board.index, index
    board.beat(lambda: (0, 0))
    board.index = mine


def test_the_pids_asked_are_the_other_live_workers_and_an_exited_one_is_not_signalled():
    board = WorkerBoard(3)
    for index, pid in enumerate((101, 102, 103)):
        board.started(index, pid, restart=False)
    board.index = 0
    assert board.others() == []  # no heartbeat yet: not alive
    for index in range(3):
        beat_as(board, index)
    assert board.others() == [102, 103]
    board.exited(1)  # its pid may soon be another process's
    assert board.others() == [103]
    row = board.health(lambda: (0, 0))["workers"][1]
    assert (row["pid"], row["alive"]) == (0, False)
    board.started(1, 104, restart=True)
    beat_as(board, 1)
    assert board.others() == [104, 103]
    assert board.health(lambda: (0, 0))["workers"][1]["restarts"] == 1
