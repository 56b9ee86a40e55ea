"""Stream processors: steps between the raw topic and the events topic.

A step is a plain function that takes an event and returns zero or more events (`[]` drops one,
several split it). Steps know nothing of faust; `processors/app.py` wires them into agents.
"""

from collections.abc import Callable, Sequence

from schemas.event import Event

__all__ = ["Step", "run_steps"]

Step = Callable[[Event], list[Event]]


def run_steps(event: Event, steps: Sequence[Step]) -> list[Event]:
    """Feed the event through each step in order; every output of one step feeds the next."""
    events = [event]
    for step in steps:
        events = [out for current in events for out in step(current)]
    return events
