"""split_metrics: the property typing rules of the README table."""

from processors.split_metrics import split_metrics
from tests.factories import make_event


def test_numbers_become_metrics_and_the_rest_dimensions() -> None:
    event = make_event(
        properties={
            "amount": 100,
            "price": 9.5,
            "currency": "USD",
            "trial": True,
            "tags": ["a", "b"],
            "plan": {"name": "pro", "seats": 3},
            "nothing": None,
        }
    )
    out = split_metrics(event)
    assert out.metrics == {"amount": 100.0, "price": 9.5, "plan.seats": 3.0}
    assert out.dimensions == {
        "currency": "USD",
        "trial": "true",
        "tags": '["a","b"]',
        "plan.name": "pro",
    }


def test_values_typed_upstream_win_and_the_step_is_idempotent() -> None:
    event = make_event(properties={"amount": 1}, metrics={"amount": 2.0})
    once = split_metrics(event)
    assert once.metrics == {"amount": 2.0}
    assert split_metrics(once) == once
