"""The workflow definitions as a process follows them from `headwater.workflows`.

Every component that needs the Embed Workflow API's state holds one: each gateway process (which
also writes, gateway/workflows/store.py) and the processors (which will match events to published
workflows' triggers). They all apply the same records in the same order with the same rules
(runtime/definitions.py), so they agree.
"""

from collections.abc import Callable

from runtime.definitions import Decision, Definitions
from runtime.replica import Records, TopicFollower
from runtime.settings import KafkaSettings
from runtime.tasks import Lifecycle
from schemas import topics

__all__ = ["DefinitionReplica"]


class DefinitionReplica(Lifecycle):
    """`state` follows the topic; `on_decision` (if given) sees each change's decision."""

    def __init__(
        self,
        kafka: KafkaSettings,
        client_id: str,
        on_decision: Callable[[Decision], None] | None = None,
    ) -> None:
        self.state = Definitions()
        self._on_decision = on_decision
        self.follower = TopicFollower(kafka, topics.WORKFLOWS, client_id, self._apply, self._reset)

    @property
    def ready(self) -> bool:
        return self.follower.ready

    async def start(self) -> None:
        await self.follower.start()

    async def stop(self) -> None:
        await self.follower.stop()

    def _apply(self, records: Records) -> None:
        for record in records:
            if record.key is None:
                continue
            decision = self.state.apply(record.key, record.value)
            if decision is not None and self._on_decision is not None:
                self._on_decision(decision)

    def _reset(self) -> None:
        self.state = Definitions()
