"""A naive reference for the transformer memories: one query and one memory at a time.

It reuses a memory module's parameters but none of its attention, mask, age or caching code,
so agreement with ``step`` and ``forward_sequence`` checks those independently.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from rl_memory.memory import TransformerMemory


def age_bucket(age: int, n_buckets: int, max_relative_position: int) -> int:
    """Return the T5-style bucket of one age: exact below n/2, log-spaced above, capped."""
    exact = max(n_buckets // 2, 1)
    if age >= max_relative_position:
        return n_buckets - 1
    if age < exact:
        return age
    ratio = math.log(age / exact) / math.log(max_relative_position / exact)
    return min(exact + math.floor(ratio * (n_buckets - 1 - exact)), n_buckets - 1)


def episode_steps(episode_start: list[bool], first_step: int = 0) -> list[int]:
    """Return each frame's episode step, given the step of frame 0 if it starts no episode."""
    steps, current = [], first_step - 1
    for start in episode_start:
        current = 0 if start else current + 1
        steps.append(current)
    return steps


def naive_forward(
    memory: TransformerMemory,
    x: Tensor,
    episode_start: list[bool],
    use_mask: bool = True,
) -> tuple[Tensor, list[Tensor]]:
    """Run one env's whole sequence with full causal attention inside each episode.

    Args:
        memory: the module whose parameters to use.
        x: [T, D] frames of one env.
        episode_start: T flags; frame 0 must start an episode.
        use_mask: apply the Expire-Span mask (kind "expire-span" only); without it, every
            earlier frame of the episode is attended in full.

    Returns:
        The output [T, D] and, per layer, the span of each frame [T].
    """
    config = memory.config
    steps = episode_steps(episode_start)
    episode = torch.tensor(episode_start).long().cumsum(0).tolist()
    n_heads, head_dim = config.n_heads, config.d_model // config.n_heads
    hidden, spans = x, []
    for layer in memory.memory_layers:
        normed = layer.norm_attn(hidden)
        query, key, value = (
            part.reshape(-1, n_heads, head_dim) for part in layer.in_proj(normed).chunk(3, dim=-1)
        )
        span = None
        if layer.span is not None:
            logit = layer.span.linear(hidden).squeeze(-1) / config.span_predivide
            span = config.max_span * torch.sigmoid(logit)
            spans.append(span)

        outputs = []
        for t in range(x.shape[0]):
            sources = [s for s in range(t + 1) if episode[s] == episode[t]]
            ages = [steps[t] - steps[s] for s in sources]
            if config.kind == "transformer-xl":
                sources = [s for s, a in zip(sources, ages, strict=True) if a <= config.window]
                ages = [a for a in ages if a <= config.window]
            masks = [torch.ones((), dtype=x.dtype) for _ in sources]
            if span is not None and use_mask:
                masks = [
                    (1 + (span[s] - a) / config.ramp).clamp(0, 1)
                    for s, a in zip(sources, ages, strict=True)
                ]
            head_outputs = []
            for h in range(n_heads):
                scores = []
                for s, a in zip(sources, ages, strict=True):
                    bucket = age_bucket(a, config.age_buckets, config.max_relative_position)
                    bias = layer.age_bias.bias.weight[bucket, h]
                    scores.append(query[t, h] @ key[s, h] / math.sqrt(head_dim) + bias)
                alive = [i for i, m in enumerate(masks) if m > 0]
                probs = torch.softmax(torch.stack([scores[i] for i in alive]), dim=0)
                weights = probs * torch.stack([masks[i] for i in alive])
                weights = weights / weights.sum()
                head_outputs.append(
                    sum(w * value[sources[i], h] for w, i in zip(weights, alive, strict=True))
                )
            outputs.append(torch.cat(head_outputs))
        attended = torch.stack(outputs)
        hidden = hidden + layer.out(attended)
        hidden = hidden + layer.feed_forward(layer.norm_ff(hidden))
    return memory.norm_out(hidden), spans
