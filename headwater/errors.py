"""The root of Headwater's error tree.

Every package's `errors.py` derives from `HeadwaterError` and says whether trying again can help,
so that callers decide on retries from one flag instead of catching a list of driver errors.
"""

__all__ = ["HeadwaterError"]


class HeadwaterError(Exception):
    """Base of every error Headwater raises on purpose."""

    retriable: bool = False
