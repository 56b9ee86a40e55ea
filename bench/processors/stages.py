"""A processor worker's CPU per event by stage of the chain, from the profile run's py-spy
recording: each sample is charged to the stage of its innermost frame that names one, and a
stage's share of the samples times the counted runs' median CPU per event is its µs per event.

Sampling rather than timers inside the worker: the stages take from well under a microsecond
(the trigger step) to tens of them, so a timer per stage and record would cost about as much as
the cheap stages it measures, and it would measure a worker that is not the one users run. The
shares are of CPU-busy samples (py-spy leaves idle threads out), so they split CPU time.

Stages: consume is what faust and aiokafka do to hand the worker its raw records (the
consumer thread with its own loop, the fetcher, the stream, acks and commits); decode and encode
are the event's JSON and its pydantic model; dedupe, identity, entries, split, trigger and place
are the chain's steps, each with the table reads and writes it makes (with faust's tables, the
changelog record each write queues); produce is sending the outputs, and with batched state,
writing the batch's tables and sending their changelogs; the event loop is the main thread's
uvloop, whose C code py-spy cannot see into. On a machine with more runnable threads than cores,
py-spy also counts a thread waiting for a core as busy, so the shares lean toward the threads
that wait most (faust's consumer thread, here).
"""

from collections import Counter
from pathlib import Path

from bench.results import CaseResult

__all__ = ["STAGES", "print_stages", "stage_of", "stage_results", "stage_shares"]

_LOOP = "event loop (the main thread's uvloop, scheduling)"
_CONSUME = "consume"
_OTHER = "other (the chain's own glue, metrics, logging, pydantic copies)"
# (stage, markers): the stacks are searched for each group in turn, the chain's steps first
# (innermost step frame wins), so what a step calls (faust's table writes included) is its own
STAGES: tuple[tuple[tuple[str, tuple[str, ...]], ...], ...] = (
    (
        ("decode", ("decode (schemas/event.py",)),
        ("encode", ("encode (schemas/event.py",)),
        ("dedupe", ("processors/dedupe.py",)),
        ("identity", ("processors/identity.py",)),
        ("entries", ("processors/entry_index.py", "_with_entry (processors/chain.py")),
        ("split", ("processors/split_metrics.py",)),
        ("trigger", ("processors/triggers.py", "runtime/triggers.py")),
        ("place", ("processors/place.py", "_misplaced (processors/chain.py")),
        ("table writes, batched", ("processors/batches.py:",)),
    ),
    (
        (
            "produce",
            (
                "_send_batch (processors/app.py",
                "_send (processors/app.py",
                "aiokafka/producer/",
                "faust/transport/producer.py",
                "send (faust/transport/drivers/aiokafka.py",
                "flush (faust/transport/drivers/aiokafka.py",
            ),
        ),
    ),
    # what the agent's loop itself calls into faust for: taking records, acknowledging them
    ((_CONSUME, ("faust/streams.py", "faust/transport/consumer.py", "runtime/gaps.py")),),
    ((_OTHER, ("raw_to_events (processors/app.py",)),),
    ((_CONSUME, ("faust/", "mode/", "aiokafka/", "asyncio/")),),
)
_LOOP_RUNNERS = (  # a sample ending here is in uvloop's C code, running that thread's loop
    "execute_from_commandline (mode/worker.py:",  # the worker's loop, in the main thread
    "_start_thread (mode/threads.py:",  # the loop of faust's consumer thread
    "(selectors.py:",
)


def stage_of(frames: list[str], main_thread: bool) -> str:
    """The stage of a sample, from its frames (outermost first). faust's consumer thread only
    fetches records, so its own loop is consuming."""
    if any(runner in frames[-1] for runner in _LOOP_RUNNERS):
        return _LOOP if main_thread else _CONSUME
    for group in STAGES:
        for frame in reversed(frames):
            for stage, markers in group:
                if any(marker in frame for marker in markers):
                    return stage
    return _OTHER


def stage_shares(path: Path) -> tuple[int, Counter[str]]:
    """Samples in a raw py-spy recording (`--format raw`), and their count by stage."""
    by_stage: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        thread, *frames = stack.split(";")
        frames = [frame for frame in frames if not frame.startswith("process ")]
        if frames and count.isdigit():
            by_stage[stage_of(frames, thread.endswith("MainThread"))] += int(count)
    return sum(by_stage.values()), by_stage


def stage_results(path: Path, cpu_us_per_event: float) -> list[CaseResult]:
    """One case per stage: its share of the samples and its µs per event at `cpu_us_per_event`
    (none without samples)."""
    samples, by_stage = stage_shares(path)
    if not samples:
        return []
    order = [*dict.fromkeys(stage for group in STAGES for stage, _ in group), _LOOP]
    results = []
    for stage in order:
        share = by_stage[stage] / samples
        figures = {"share_percent": 100 * share, "cpu_us_per_event": share * cpu_us_per_event}
        results.append(CaseResult(f"stage: {stage}", figures, [figures["cpu_us_per_event"]]))
    return results


def print_stages(results: list[CaseResult], cpu_us_per_event: float) -> None:
    """The stage table of `stage_results`."""
    if not results:
        return
    print(
        f"\nCPU per event by stage (py-spy shares of the samples x the counted runs' median"
        f" {cpu_us_per_event:.0f} µs/event)\n\n| stage | share | µs/event |\n|---|---|---|"
    )
    for result in results:
        share, us = result.figures["share_percent"], result.figures["cpu_us_per_event"]
        print(f"| {result.case.removeprefix('stage: ')} | {share:.1f}% | {us:.1f} |")
