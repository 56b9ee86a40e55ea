"""A py-spy recording of a measured process (the processors worker, the sink), for a benchmark's
profile run: raw collapsed stacks per thread, read by bench/processors/profile_summary.py.

py-spy is optional (`pip install py-spy`); without it a benchmark skips its profile run.
"""

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["py_spy", "py_spy_command"]


def py_spy_command() -> str | None:
    """py-spy from this interpreter's environment, or else from PATH; None if neither has it."""
    command = Path(sys.executable).with_name("py-spy")
    return str(command) if command.exists() else shutil.which("py-spy")


@contextmanager
def py_spy(pid: int, out: Path, rate: int = 100) -> Iterator[None]:
    """Record `pid` with py-spy for the duration of the block (collapsed stacks, per thread,
    CPU-busy samples only) into `out`."""
    command = py_spy_command()
    if command is None:
        raise SystemExit("py-spy not found: pip install py-spy")
    argv = [command, "record", "--threads", "--format", "raw", "--rate", str(rate), "-o", str(out)]
    spy = subprocess.Popen([*argv, "--pid", str(pid)], stdout=subprocess.DEVNULL)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        try:
            spy.wait(60)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()
