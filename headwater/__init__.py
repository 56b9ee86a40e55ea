"""Headwater: the CLI, the shared settings and the local stack that the components run on.

The pipeline itself lives in the sibling packages `gateway`, `processors`, `sinks` and `schemas`.
"""

__all__: list[str] = []
