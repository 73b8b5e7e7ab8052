"""`rolloutctl serve` as a user runs it: the real binary in a pseudo-terminal."""

from __future__ import annotations

import io
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pexpect

from tests.helpers import CLI_BOUND, free_port, rolloutctl_bin, run_cli_batch

KEY = "sk-canary-serve-5b4a"


def spawn(*args: str, **kwargs) -> pexpect.spawn:
    return pexpect.spawn(
        rolloutctl_bin(),
        list(args),
        encoding="utf-8",
        timeout=CLI_BOUND,
        dimensions=(40, 160),
        **kwargs,
    )


def test_serve_banner_rollout_and_ctrl_c(trainer):
    port = free_port()
    child = spawn("serve", "--example", "calculator", "--port", str(port), "--log-level", "debug")
    child.logfile_read = transcript = io.StringIO()
    child.expect("RolloutServer")
    child.expect(f"http://127.0.0.1:{port}/docs")
    server = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{server}/health").json()["agent"] == "calculator"
    body = {
        "rollout_id": "cli-1",
        "server_url": trainer.url,
        "api_key": KEY,
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert httpx.post(f"{server}/v1/rollout/init", json=body).status_code == 202
    assert trainer.wait("cli-1")["status"] == "COMPLETED"
    child.expect("cli-1 COMPLETED")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "cli-1 started" in transcript.getvalue()
    assert KEY not in transcript.getvalue()  # the canary: no secret in any log line


def test_bad_target_is_one_line_and_exit_2(tmp_path):
    broken = tmp_path / "agent.py"
    broken.write_text("agent = 42\n")
    targets = ["no_such_module_xyz:agent", f"{broken}:agent", f"{broken}:missing"]
    for result in run_cli_batch(*(["serve", t] for t in [*targets, str(tmp_path / "absent.py")])):
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_port_in_use_is_exit_3():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [rolloutctl_bin(), "serve", "--example", "echo", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=CLI_BOUND,
        )
    assert result.returncode == 3
    assert "already in use" in result.stderr and "Traceback" not in result.stderr


def test_workers_on_a_port_another_servers_workers_hold_is_exit_3():
    """SO_REUSEPORT would let the second server join the first's port and split its
    connections; it must fail as on any port in use."""
    with socket.socket() as first, socket.socket() as second:  # another server's workers
        for held in (first, second):
            held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        first.bind(("127.0.0.1", 0))
        port = first.getsockname()[1]
        second.bind(("127.0.0.1", port))
        for held in (first, second):
            held.listen()
        command = ["serve", "--example", "echo", "--workers", "2", "--port", str(port)]
        result = subprocess.run(
            [rolloutctl_bin(), *command], capture_output=True, text=True, timeout=CLI_BOUND
        )
    assert result.returncode == 3, result.stderr
    assert "already in use" in result.stderr and "Traceback" not in result.stderr


def test_workers_banner_says_why_the_memory_store_is_a_private_file():
    """Under --workers, --store memory becomes an SQLite file the workers share: the banner
    names the file and says why; the file's folder is gone once the server exits."""
    port = free_port()
    child = spawn("serve", "--example", "echo", "--workers", "2", "--store", "memory",
                  "--port", str(port))  # fmt: skip
    child.expect(r"records  sqlite:///(\S+/records\.db)")
    folder = Path(child.match.group(1)).parent
    child.expect(r"\(memory is per process, so the workers share this temporary file\)")
    child.expect("workers  2 processes")
    assert folder.is_dir()
    for _ in range(2):  # both workers up: Ctrl-C now reaches the supervisor's drain
        child.expect("Application startup complete")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert not folder.exists()


def test_environment_variables_configure_serve():
    port = free_port()
    env = {"ROLLOUT_SERVER_PORT": str(port), "ROLLOUTCTL_EXAMPLE": "echo", "PATH": "/usr/bin"}
    child = spawn("serve", env=env)
    child.expect(f"http://127.0.0.1:{port}")
    assert httpx.get(f"http://127.0.0.1:{port}/health").json()["agent"] == "echo"
    child.kill(signal.SIGTERM)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_one_exported_server_key_serves_serve_and_try_and_docs_says_it_needs_it():
    """The README's `export ROLLOUTCTL_SERVER_KEY=...` works for serve and then for try."""
    port = free_port()
    env = {"ROLLOUTCTL_SERVE_PORT": str(port), "ROLLOUTCTL_SERVER_KEY": KEY, "PATH": "/usr/bin"}
    child = spawn("serve", "--example", "echo", env=env)
    child.expect(r"/docs \(needs the key too\)")
    url = f"http://127.0.0.1:{port}"
    try:
        assert httpx.get(f"{url}/docs").status_code == 401
        tried = subprocess.run(
            [rolloutctl_bin(), "try", "--server-url", url, "--plain"],
            capture_output=True, text=True, timeout=CLI_BOUND, env=env,
        )  # fmt: skip
        assert tried.returncode == 0, tried.stdout + tried.stderr
        assert KEY not in tried.stdout + tried.stderr
    finally:
        child.kill(signal.SIGTERM)
        child.expect(pexpect.EOF)
        child.close()
