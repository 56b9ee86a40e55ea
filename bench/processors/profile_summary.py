"""Where a processor worker's time goes, from a py-spy recording (`--format raw`: one collapsed
stack per line, then its sample count).

py-spy samples Python frames only (no `--native`), so time spent inside a C or Rust extension
(pydantic-core, orjson, rocksdict, hashlib) is charged to the Python line that called it. The
areas below are therefore decided by the innermost frame that belongs to a known area: a sample
whose leaf is `faust/stores/rocksdb.py` is RocksDB (rocksdict) time, one whose leaf is `decode` in
schemas/event.py is pydantic-core parsing the JSON, and so on.
"""

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AREAS", "INTERNALS", "Profile", "area_of", "read_profile"]

INTERNALS = "faust/aiokafka internals"
EVENT_LOOP = (
    f"{INTERNALS}: the event loop itself (uvloop's C code: epoll, scheduling; or selectors.py"
    " without uvloop), including time runnable but waiting for a core"
)
AREAS: dict[str, tuple[str, ...]] = {
    EVENT_LOOP: ("(selectors.py)",),
    "pydantic decode/encode/copy (pydantic-core, orjson)": (
        "pydantic/",
        "pydantic_core/",
        "decode (schemas/event.py",
        "encode (schemas/event.py",
    ),
    "rocksdb get/put (faust store, rocksdict)": ("faust/stores/rocksdb.py", "rocksdict/"),
    f"{INTERNALS}: aiokafka requests and socket I/O": (
        "aiokafka/",
        "asyncio/selector_events.py",
    ),
    f"{INTERNALS}: faust streams, agents, tables, producer buffer": ("faust/", "mode/"),
    f"{INTERNALS}: asyncio loop (callbacks, tasks, futures)": ("asyncio/",),
    "our code (processors/, runtime/, schemas/, headwater/)": (
        "processors/",
        "runtime/",
        "schemas/",
        "headwater/",
    ),
}
OTHER = "other (stdlib, logging, prometheus, ...)"
_LOOP_RUNNERS = (
    "Worker.execute_from_commandline (mode/worker.py)",  # the worker's loop
    "ServiceThread._start_thread (mode/threads.py)",  # the loop of faust's consumer thread
)
_ENTRY_FRAMES = (
    "runpy",
    "<module>",
    "click/",
    "headwater/cli/",
    "mode/worker.py",
    "threading.py",
    "mode/threads.py",
    "asyncio/base_events.py",
    "asyncio/events.py",
    "Service._execute_task (mode/services.py)",
)


@dataclass(frozen=True)
class Profile:
    samples: int
    by_area: Counter[str]
    """Samples by the area of their innermost known frame."""
    inclusive: Counter[str]
    """Samples in which each function is on the stack (own + children), counted once each."""
    own: Counter[str]
    """Samples in which each function is the leaf."""
    by_thread: Counter[str]
    """Samples by thread name (faust runs its Kafka consumer in a thread of its own)."""

    def share(self, count: int) -> float:
        return count / self.samples if self.samples else 0.0

    def internals(self) -> float:
        """Share of samples in faust, aiokafka and asyncio, all areas together."""
        return self.share(sum(n for area, n in self.by_area.items() if area.startswith(INTERNALS)))

    def top_functions(self, limit: int = 8) -> list[str]:
        """The functions with the most own + child time, leaving out the frames every stack
        passes through (runpy, the CLI, threads, the event loop running a callback)."""
        return [
            name
            for name, _ in self.inclusive.most_common()
            if not any(entry in name for entry in _ENTRY_FRAMES)
        ][:limit]


def read_profile(path: Path, thread: str | None = None) -> Profile:
    """Read a raw py-spy recording; `thread` keeps only stacks of threads whose label has it."""
    by_area: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    by_thread: Counter[str] = Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        if thread is not None and thread not in frames[0]:
            continue
        calls = [
            _function(frame) for frame in frames if not frame.startswith(("thread ", "process "))
        ]
        if not calls:
            continue
        count = int(count_text)
        samples += count
        by_thread[frames[0].rpartition(": ")[2]] += count
        by_area[area_of(calls)] += count
        own[calls[-1]] += count
        for name in set(calls):
            inclusive[name] += count
    return Profile(samples, by_area, inclusive, own, by_thread)


def _function(frame: str) -> str:
    """`name (file:line)` -> `name (file)`."""
    head, _, line = frame.rpartition(":")
    return f"{head})" if line.rstrip(")").isdigit() else frame


def area_of(calls: list[str]) -> str:
    """The area of the innermost call (last in `calls`) that belongs to one. A stack that ends in
    the frame running the loop is inside uvloop, whose C code py-spy does not see."""
    if calls[-1] in _LOOP_RUNNERS:
        return EVENT_LOOP
    for call in reversed(calls):
        for area, markers in AREAS.items():
            if any(marker in call for marker in markers):
                return area
    return OTHER
