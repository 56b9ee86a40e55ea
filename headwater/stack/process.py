"""A background service process that outlives the command that started it.

`start()` is idempotent (a live pid file means it is already running), waits for readiness and,
when the service does not come up, fails with the tail of its log. `stop()` sends SIGTERM to the
process group, waits, and only then kills.
"""

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from headwater.errors import ServiceFailed

__all__ = ["ManagedProcess", "log_tail", "pid_alive", "stop_child"]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def log_tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def stop_child(process: "subprocess.Popen[bytes]", timeout: float = 30.0) -> int:
    """Stop a child this process started: SIGTERM, then SIGKILL after `timeout`; its exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@dataclass(frozen=True)
class ManagedProcess:
    """One service: its command, its folder (pid file and log live there) and its health check."""

    name: str
    argv: Sequence[str]
    workdir: Path
    is_ready: Callable[[], bool]
    startup_timeout: float = 60.0

    @property
    def pid_file(self) -> Path:
        return self.workdir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid of the running service, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        if _running(pid):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(self) -> bool:
        """Start unless already running; return True if this call started it."""
        if self.pid() is not None:
            self._wait_ready()
            return False
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("wb") as log:
            proc = subprocess.Popen(
                list(self.argv),
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        try:
            self._wait_ready(proc)
        except ServiceFailed:
            self.stop()
            raise
        return True

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the service if it runs; return True if it was running."""
        pid = self.pid()
        if pid is None:
            return False
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _running(pid):
            _signal_group(pid, signal.SIGKILL)
            while _running(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True

    def _wait_ready(self, proc: subprocess.Popen[bytes] | None = None) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.is_ready():
                return
            if proc is not None and proc.poll() is not None:
                raise ServiceFailed(
                    f"{self.name} exited with code {proc.returncode} while starting; "
                    f"last lines of {self.log_file}:\n{log_tail(self.log_file)}"
                )
            time.sleep(0.2)
        raise ServiceFailed(
            f"{self.name} was not ready after {self.startup_timeout:.0f}s; "
            f"last lines of {self.log_file}:\n{log_tail(self.log_file)}"
        )


def _running(pid: int) -> bool:
    """Alive and not a zombie; reaps the process if it is our own child that has exited."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        ours = True
    except ChildProcessError:
        reaped, ours = 0, False  # started by another command: its parent (or init) reaps it
    if reaped == pid:
        return False
    if pid_alive(pid) and not _is_zombie(pid):
        return True
    if ours:
        os.waitpid(pid, 0)  # it exited between the two checks: reap it now
    return False


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _is_zombie(pid: int) -> bool:
    """A child that exited but was not reaped still answers kill(0); /proc tells the truth."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "Z"
