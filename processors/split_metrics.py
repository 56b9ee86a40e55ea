"""Split an event's raw properties into numeric metrics and string dimensions.

| property value      | becomes                                        |
|---------------------|------------------------------------------------|
| number (not bool)   | metric, as float                               |
| string              | dimension                                      |
| boolean             | dimension `"true"` / `"false"`                 |
| object              | flattened with dotted keys (`a.b`), recursively |
| array               | dimension holding its JSON text                |
| null                | nothing                                        |

Metrics and dimensions the gateway already typed win over ones derived here, so the step is
idempotent: running it twice gives the same event.
"""

from typing import Any

import orjson

from schemas.event import Event

__all__ = ["split_metrics"]


def split_metrics(event: Event) -> Event:
    metrics: dict[str, float] = {}
    dimensions: dict[str, str] = {}
    for key, value in _flatten(event.properties):
        if isinstance(value, bool):
            dimensions[key] = "true" if value else "false"
        elif isinstance(value, int | float):
            metrics[key] = float(value)
        elif isinstance(value, str):
            dimensions[key] = value
        elif isinstance(value, list):
            dimensions[key] = orjson.dumps(value).decode()
    update = {
        "metrics": {**metrics, **event.metrics},
        "dimensions": {**dimensions, **event.dimensions},
    }
    return event.model_copy(update=update)


def _flatten(properties: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    flat: list[tuple[str, Any]] = []
    for key, value in properties.items():
        if isinstance(value, dict):
            flat.extend(_flatten(value, f"{prefix}{key}."))
        elif value is not None:
            flat.append((f"{prefix}{key}", value))
    return flat
