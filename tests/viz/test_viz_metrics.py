from __future__ import annotations

import numpy as np
import pytest
from viz_synthetic import synthetic_trace

from rl_memory.viz.metrics import cue_retained, mean_retained, memory_metrics


def test_cue_retained_counts_recalls():
    kept = synthetic_trace(length=30)
    lost = synthetic_trace(length=30, cue_span=3.0)
    assert cue_retained([kept, kept]) == 1.0
    assert cue_retained([lost]) == 0.0
    assert cue_retained([kept, lost, lost, kept]) == pytest.approx(0.5)


def test_cue_retained_skips_episodes_without_recall():
    unfinished = synthetic_trace(length=30)
    unfinished.recall_step = -1
    assert cue_retained([unfinished]) is None
    assert cue_retained([unfinished, synthetic_trace(length=30)]) == 1.0


def test_cue_retained_per_layer():
    trace = synthetic_trace(length=30, n_layers=2)
    trace.layers[1].mask[29][:] = 0.0
    metrics = memory_metrics([trace])
    assert metrics["memory/cue_retained"] == 1.0
    assert metrics["memory/cue_retained/layer0"] == 1.0
    assert metrics["memory/cue_retained/layer1"] == 0.0


def test_mean_retained_over_steps_and_layers():
    trace = synthetic_trace(length=30, n_layers=2)
    expected = np.mean([len(steps) for layer in trace.layers for steps in layer.memory_step])
    assert mean_retained([trace]) == pytest.approx(expected)
    trace.layers = []
    assert mean_retained([trace]) is None


def test_memory_metrics_without_recall_has_no_cue_key():
    trace = synthetic_trace(length=10)
    trace.cue_steps = ()
    assert "memory/cue_retained" not in memory_metrics([trace])
