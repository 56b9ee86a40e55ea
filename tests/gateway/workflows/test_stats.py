"""The engine's counters as the workflow object shows them: summed over partitions, and per node
of the template only where a node has counts."""

from gateway.workflows.stats import Counts, NodeCounts, node_stats, total

TEMPLATE = {
    "nodes": [
        {"id": "start", "type": "Start"},
        {"id": "wait", "type": "Delay", "delay_n": 2, "delay_unit": "day"},
        {"id": "hook", "type": "Webhook", "url": "https://example.com/"},
    ],
    "edges": ["start-wait", "wait-hook"],
}


def counts(executions: int, **nodes: tuple[int, int, int, int]) -> Counts:
    return Counts(
        executions_count=executions,
        nodes={n: NodeCounts(entered=e, succeeded=s, failed=f, waiting=w)
               for n, (e, s, f, w) in nodes.items()},
    )  # fmt: skip


def test_the_figures_are_the_sum_over_partitions() -> None:
    summed = total([counts(3, wait=(3, 1, 0, 2)), counts(2, wait=(2, 2, 0, 0), hook=(2, 1, 1, 0))])
    assert summed == counts(5, wait=(5, 3, 0, 2), hook=(2, 1, 1, 0))
    assert total([]) == Counts()


def test_stats_are_the_counted_nodes_of_the_template_in_its_order() -> None:
    figures = counts(4, hook=(1, 1, 0, 0), removed=(4, 4, 0, 0), wait=(4, 1, 0, 3))
    assert list(node_stats(figures, TEMPLATE).items()) == [
        ("wait", {"entered": 4, "succeeded": 1, "failed": 0, "waiting": 3}),
        ("hook", {"entered": 1, "succeeded": 1, "failed": 0, "waiting": 0}),
    ]
    assert node_stats(Counts(), TEMPLATE) == {}  # never ran: the seed's `"stats": {}`


def test_a_record_of_the_engine_reads_as_counts() -> None:
    record = b'{"executions_count": 2, "nodes": {"wait": {"entered": 2, "waiting": 2}}}'
    assert Counts.model_validate_json(record) == counts(2, wait=(2, 0, 0, 2))
