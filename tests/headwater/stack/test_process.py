"""The local stack's managed processes: started once, found again by their pid file, stopped by
process group, and a service that dies while starting fails with its log's tail."""

import subprocess
import sys
from pathlib import Path

import pytest

from headwater.errors import ServiceFailed
from headwater.stack.process import ManagedProcess, pid_alive, stop_child


def sleeper(workdir: Path, ready: bool = True) -> ManagedProcess:
    return ManagedProcess(
        name="sleeper",
        argv=[sys.executable, "-c", "import time; time.sleep(60)"],
        workdir=workdir,
        is_ready=lambda: ready,
        startup_timeout=5.0,
    )


def test_a_service_starts_once_and_stops(tmp_path: Path) -> None:
    service = sleeper(tmp_path)
    assert service.start() is True
    pid = service.pid()
    assert pid is not None and pid_alive(pid)
    assert service.start() is False  # already running: found by its pid file
    assert service.pid() == pid
    assert service.stop(timeout=5.0) is True
    assert service.pid() is None and not service.pid_file.exists()
    assert service.stop() is False


def test_a_service_that_exits_while_starting_fails_with_its_log(tmp_path: Path) -> None:
    service = ManagedProcess(
        name="broken",
        argv=[sys.executable, "-c", "print('no config here'); raise SystemExit(3)"],
        workdir=tmp_path,
        is_ready=lambda: False,
        startup_timeout=5.0,
    )
    with pytest.raises(ServiceFailed, match="exited with code 3") as failure:
        service.start()
    assert "no config here" in str(failure.value)
    assert service.pid() is None


def test_stop_child_returns_the_exit_code_of_a_terminated_child() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert stop_child(child, timeout=5.0) == -15
    assert stop_child(child) == -15  # already stopped: the same code
