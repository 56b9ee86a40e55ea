"""What the sink commits with each offset, and how it skips records the processors repeated.

The processors are at least once toward Kafka: a worker that crashes reads its raw records again
from its last commit and produces their outputs a second time. Each output carries the raw record
it came from (`schemas.topics.SOURCE_HEADER`, `"<raw partition>:<raw offset>"`) and goes to the
events partition of the same number, so on one events partition the raw offsets of one raw
partition only rise, except where a restarted worker repeats itself. The sink keeps, per events
partition, the highest raw offset it passed (its *marks*) and skips any record at or below it:
each raw record reaches ClickHouse once, whatever the processors repeated.

The marks travel in the offset commit's metadata, so a sink restarted or handed the partition
starts from the marks that belong to its committed offset:
- `headwater-source <marks>` after a write: the marks as of the committed offset;
- `headwater-pending <first> <last> <marks>` before a write: the range being written and the marks
  as of its start, so a range re-read after a crash is filtered and cut exactly as before;
- `headwater-pending <first> <last> <marks> <group>` before a write of several partitions' ranges
  as one insert: every range of the group with its marks (`<partition>=<first>-<last>=<marks>`,
  `;` between them), so whichever sink finds any of them pending can rebuild the whole insert.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from schemas.topics import SOURCE_HEADER

__all__ = ["CommitMetadata", "GroupMember", "Marks", "source_of"]

_COMMITTED = "headwater-source"
_PENDING = "headwater-pending"
_NO_MARKS = "-"

Marks = dict[int, int]  # raw partition -> highest raw offset passed


def source_of(headers: Sequence[tuple[str, bytes]]) -> tuple[int, int]:
    """The (raw partition, raw offset) a processed record names, or (-1, -1) if it names none."""
    for name, value in headers:
        if name == SOURCE_HEADER:
            partition, _, offset = value.decode().partition(":")
            return int(partition), int(offset)
    return -1, -1


@dataclass(frozen=True)
class GroupMember:
    """One partition's range in a group of ranges written as one insert, with the marks as of
    its start."""

    partition: int
    first: int
    last: int
    marks: Marks

    def encode(self) -> str:
        return f"{self.partition}={self.first}-{self.last}={_encode_marks(self.marks)}"

    @classmethod
    def parse(cls, text: str) -> "GroupMember":
        partition, span, marks = text.split("=")
        first, last = span.split("-")
        return cls(int(partition), int(first), int(last), _parse_marks(marks))


@dataclass(frozen=True)
class CommitMetadata:
    marks: Marks = field(default_factory=dict)
    pending: tuple[int, int] | None = None  # first and last offset of a range being written
    group: tuple[GroupMember, ...] = ()  # the ranges written as one insert with it, itself too

    def encode(self) -> str:
        marks = _encode_marks(self.marks)
        if self.pending is None:
            return f"{_COMMITTED} {marks}"
        first, last = self.pending
        pending = f"{_PENDING} {first} {last} {marks}"
        if not self.group:
            return pending
        return f"{pending} {';'.join(member.encode() for member in self.group)}"

    @classmethod
    def parse(cls, text: str | None) -> "CommitMetadata":
        """Read what `encode` wrote; anything else (another tool's commit) means no marks."""
        words = (text or "").split()
        try:
            if len(words) == 2 and words[0] == _COMMITTED:
                return cls(_parse_marks(words[1]))
            if len(words) in (4, 5) and words[0] == _PENDING:
                group = words[4].split(";") if len(words) == 5 else []
                members = tuple(GroupMember.parse(member) for member in group)
                return cls(_parse_marks(words[3]), (int(words[1]), int(words[2])), members)
        except ValueError:
            pass
        return cls()


def _encode_marks(marks: Marks) -> str:
    return ",".join(f"{p}:{o}" for p, o in sorted(marks.items())) or _NO_MARKS


def _parse_marks(text: str) -> Marks:
    if text == _NO_MARKS:
        return {}
    pairs = (item.split(":") for item in text.split(","))
    return {int(partition): int(offset) for partition, offset in pairs}
