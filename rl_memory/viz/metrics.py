"""Memory metrics computed from recorded episodes (``EpisodeTrace``).

``memory/cue_retained`` is the fraction of recalls at which a cue frame was still in
memory: over the recorded episodes that reached their recall step and report cue steps, the
share whose query at the recall step had some cue frame with a mask above 0 in any layer
(``/layer{i}``: in layer i). Frames on their ramp (0 < mask < 1) count as in memory, because
the query still attends to them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rl_memory.viz.trace import EpisodeTrace


def cue_retained(traces: Sequence[EpisodeTrace], layer: int | None = None) -> float | None:
    """Return the fraction of recalls at which a cue frame was still in memory.

    Args:
        traces: recorded episodes; those without a recall step or cue steps are skipped.
        layer: look at this layer only; None counts a cue kept in any layer.

    Returns:
        The fraction in [0, 1], or None if no episode reached a recall step.
    """
    recalls = [trace for trace in traces if trace.has_recall and trace.layers]
    if not recalls:
        return None
    kept = [trace.cue_in_memory(trace.recall_step, layer) for trace in recalls]
    return float(np.mean(kept))


def memory_metrics(traces: Sequence[EpisodeTrace]) -> dict[str, float]:
    """Return ``memory/cue_retained`` and ``memory/cue_retained/layer{i}`` for the traces.

    The dict is empty when no episode reached a recall step with a cue reported.
    """
    metrics: dict[str, float] = {}
    overall = cue_retained(traces)
    if overall is None:
        return metrics
    metrics["memory/cue_retained"] = overall
    n_layers = max(trace.n_layers for trace in traces)
    for index in range(n_layers):
        traces_with_layer = [trace for trace in traces if trace.n_layers > index]
        value = cue_retained(traces_with_layer, index)
        if value is not None:
            metrics[f"memory/cue_retained/layer{index}"] = value
    return metrics


def mean_retained(traces: Sequence[EpisodeTrace]) -> float | None:
    """Return the mean number of memories a query attended, over all steps and layers."""
    counts = [layer.retained() for trace in traces for layer in trace.layers]
    counts = [count for count in counts if len(count)]
    if not counts:
        return None
    return float(np.concatenate(counts).mean())
