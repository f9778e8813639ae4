"""Synthetic episode traces that follow Expire-Span's masking rule, for tests of the figures.

Frame i gets span e_i; the query of step t keeps memory i while its mask
``clamp(1 + (e_i - (t - i)) / ramp, 0, 1)`` is above 0, and attends to it with weights
proportional to the mask (cue frames get a higher score).
"""

from __future__ import annotations

import numpy as np

from rl_memory.viz.trace import EpisodeTrace, LayerTrace

CUE_COLOUR = np.array([200, 40, 40], dtype=np.uint8)
CORRIDOR_COLOUR = np.array([90, 90, 90], dtype=np.uint8)


def synthetic_trace(
    length: int = 40,
    cue_steps: tuple[int, ...] = (0,),
    recall_step: int | None = None,
    n_layers: int = 1,
    n_heads: int = 2,
    cue_span: float | None = None,
    corridor_span: float = 6.0,
    ramp: float = 4.0,
    frames: bool = True,
    seed: int = 0,
) -> EpisodeTrace:
    """Build a corridor-like trace: the cue frames are kept until the recall step."""
    rng = np.random.default_rng(seed)
    recall = length - 1 if recall_step is None else recall_step
    cue_span = float(recall + 2) if cue_span is None else cue_span
    trace = EpisodeTrace(
        env_id="synthetic/Corridor",
        actions=[int(a) for a in rng.integers(0, 3, size=length)],
        rewards=[0.0] * (length - 1) + [1.0],
        cue_steps=cue_steps,
        recall_step=recall,
        recall_correct=True,
        is_success=True,
        max_span=float(2 * length),
        ramp=ramp,
        memory_kind="expire-span",
    )
    if frames:
        trace.frames = [_frame(step in cue_steps, step) for step in range(length)]
    for layer_index in range(n_layers):
        spans = corridor_span * (1.0 + 0.3 * rng.random(length)) * (layer_index + 1)
        spans[list(cue_steps)] = cue_span
        layer = LayerTrace()
        for t in range(length):
            memory_step = np.arange(t + 1)
            mask = np.clip(1.0 + (spans[: t + 1] - (t - memory_step)) / ramp, 0.0, 1.0)
            kept = mask > 0
            memory_step, mask = memory_step[kept], mask[kept]
            score = np.where(np.isin(memory_step, cue_steps), 2.0, 0.0)
            score = score + rng.normal(0.0, 0.5, size=(n_heads, len(memory_step)))
            weights = mask * np.exp(score)
            weights = weights / weights.sum(axis=1, keepdims=True)
            layer.memory_step.append(memory_step)
            layer.mask.append(mask.astype(np.float32))
            layer.attention.append(weights.astype(np.float32))
            layer.memory_span.append(spans[memory_step])
            layer.span.append(float(spans[t]))
        trace.layers.append(layer)
    return trace


def _frame(is_cue: bool, step: int) -> np.ndarray:
    frame = np.full((56, 56, 3), 30, dtype=np.uint8)
    frame[24:32, :] = CORRIDOR_COLOUR
    frame[48:56, 24:32] = [230, 200, 40]  # the agent, at the bottom centre
    if is_cue:
        frame[8:24, 20:36] = CUE_COLOUR
    frame[0:2, : 2 + step % 54] = 255  # a per-step stripe so frames differ
    return frame
