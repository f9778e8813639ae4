from __future__ import annotations

import numpy as np
import pytest
from viz_fakes import CueEnv, WindowPolicy

from rl_memory.viz.trace import record_episode


def test_record_episode_collects_every_step():
    trace = record_episode(WindowPolicy(window=3, n_layers=2), CueEnv(length=6), seed=0)
    assert trace.length == 7
    assert trace.n_layers == 2
    assert trace.frames is not None and len(trace.frames) == 7
    assert trace.frames[0].shape == (8, 8, 3)
    assert trace.cue_steps == (0,)
    assert trace.recall_step == 6
    assert trace.recall_correct is not None
    assert all(len(layer.memory_step) == 7 for layer in trace.layers)


def test_record_episode_drops_padding():
    trace = record_episode(WindowPolicy(window=3, pad=8), CueEnv(length=6), seed=0)
    layer = trace.layers[0]
    np.testing.assert_array_equal(layer.memory_step[0], [0])
    np.testing.assert_array_equal(layer.memory_step[5], [0, 3, 4, 5])
    assert layer.attention[5] is not None
    assert layer.attention[5].shape == (2, 4)
    np.testing.assert_allclose(layer.mean_attention(5), [0.25] * 4)
    np.testing.assert_allclose(layer.spans()[:3], [10.0, 11.0, 12.0])
    np.testing.assert_array_equal(layer.retained()[:4], [1, 2, 3, 4])


def test_record_episode_without_render():
    trace = record_episode(WindowPolicy(), CueEnv(render_mode=None), render=False)
    assert trace.frames is None


def test_record_episode_max_steps():
    trace = record_episode(WindowPolicy(), CueEnv(length=50), max_steps=5)
    assert trace.length == 5
    assert trace.recall_step == -1
    assert not trace.has_recall


def test_record_episode_rejects_zero_max_steps():
    with pytest.raises(ValueError, match="max_steps"):
        record_episode(WindowPolicy(), CueEnv(), max_steps=0)


def test_cue_in_memory_follows_mask():
    trace = record_episode(WindowPolicy(window=2), CueEnv(length=6), seed=0)
    assert trace.cue_in_memory(6)
    trace.layers[0].mask[6][:] = 0.0
    assert trace.cue_in_memory(6)  # layer 1 still holds it
    assert not trace.cue_in_memory(6, layer=0)
