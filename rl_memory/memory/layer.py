"""One pre-LN transformer layer that attends over the memories of the current episode.

A layer's memories are its own input hidden states of earlier frames (Transformer-XL style).
Keys and values are projections of the layer-normalised memories; queries come from the
layer-normalised input of the current frame(s). Position enters only as a learned per-head
bias over buckets of the memory's age (query step - memory step): ages below half the bucket
count have a bucket each, larger ages share log-spaced buckets up to
``max_relative_position``, and every older age shares the last bucket (as in T5). Nothing
absolute is encoded, so the layer accepts ages longer than any seen in training.

Shapes use the letters of ``rl_memory.memory.base``; ``Dh`` is the width of one head.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rl_memory.memory.base import MemoryConfig
from rl_memory.memory.expire_span import SpanPredictor, expire_mask


def age_bucket_table(n_buckets: int, max_relative_position: int) -> Tensor:
    """Return the bucket of every age from 0 to ``max_relative_position`` (inclusive).

    Ages below ``n_buckets // 2`` get a bucket each; larger ages share log-spaced buckets;
    ``max_relative_position`` and beyond fall in the last bucket.

    Returns:
        [max_relative_position + 1] long tensor of buckets in [0, n_buckets).
    """
    exact = max(n_buckets // 2, 1)
    age = torch.arange(max_relative_position + 1, dtype=torch.float64)
    if max_relative_position <= exact:
        bucket = age.long().clamp(max=n_buckets - 1)
    else:
        ratio = torch.log(age.clamp(min=exact) / exact) / math.log(max_relative_position / exact)
        log_bucket = exact + (ratio * (n_buckets - 1 - exact)).floor().long()
        bucket = torch.where(age < exact, age.long(), log_bucket)
    bucket[-1] = n_buckets - 1
    return bucket.clamp(0, n_buckets - 1)


class AgeBias(nn.Module):
    """Learned per-head attention bias over log-spaced age buckets, zero at initialisation."""

    bucket_of_age: Tensor

    def __init__(self, n_heads: int, n_buckets: int, max_relative_position: int) -> None:
        super().__init__()
        self.max_relative_position = max_relative_position
        self.bias = nn.Embedding(n_buckets, n_heads)
        nn.init.zeros_(self.bias.weight)
        table = age_bucket_table(n_buckets, max_relative_position)
        self.register_buffer("bucket_of_age", table, persistent=False)

    def forward(self, age: Tensor) -> Tensor:
        """Return the bias for each age.

        Args:
            age: [B, T, M] long ages; negative values (padding) are treated as 0.

        Returns:
            [B, H, T, M] bias.
        """
        bucket = self.bucket_of_age[age.clamp(0, self.max_relative_position)]
        return F.embedding(bucket, self.bias.weight).permute(0, 3, 1, 2)


@dataclass
class AttentionResult:
    """Output of one layer's attention for a block of queries."""

    hidden: Tensor
    """[B, T, D]: the layer's output hidden state (input of the next layer)."""
    mask: Tensor
    """[B, T, M]: soft mask of each memory, 0 where not visible."""
    weights: Tensor
    """[B, H, T, M]: renormalised attention weights."""


class MemoryLayer(nn.Module):
    """Pre-LN attention over episode memories followed by a feed-forward block."""

    def __init__(self, config: MemoryConfig, with_span: bool) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.head_dim = config.d_model // config.n_heads
        self.ramp = config.ramp
        d = config.d_model
        self.norm_attn = nn.LayerNorm(d)
        self.in_proj = nn.Linear(d, 3 * d, bias=False)  # rows: query, key, value
        self.out = nn.Linear(d, d, bias=False)
        self.age_bias = AgeBias(config.n_heads, config.age_buckets, config.max_relative_position)
        self.norm_ff = nn.LayerNorm(d)
        self.feed_forward = nn.Sequential(
            nn.Linear(d, config.d_ff), nn.GELU(), nn.Linear(config.d_ff, d)
        )
        self.dropout = nn.Dropout(config.dropout)
        self.span: SpanPredictor | None = None
        if with_span:
            self.span = SpanPredictor(
                d, config.max_span, config.init_span_fraction, config.span_predivide
            )

    def _dropout(self, x: Tensor) -> Tensor:
        # Skipping the module call when dropout is off saves time on every acting step.
        return self.dropout(x) if self.training and self.dropout.p > 0 else x

    def _split_heads(self, projected: Tensor, n_parts: int) -> tuple[Tensor, ...]:
        """Split [B, T, n_parts * D] into n_parts tensors of shape [B, H, T, Dh]."""
        batch, length, _ = projected.shape
        parts = projected.view(batch, length, n_parts, self.n_heads, self.head_dim)
        return parts.permute(2, 0, 3, 1, 4).unbind(0)

    def project(self, hidden: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Project the layer inputs of new frames to queries, keys and values.

        Args:
            hidden: [B, T, D] layer inputs.

        Returns:
            query, key and value, each [B, H, T, Dh].
        """
        query, key, value = self._split_heads(self.in_proj(self.norm_attn(hidden)), 3)
        return query, key, value

    def keys_values(self, memory: Tensor) -> tuple[Tensor, Tensor]:
        """Project stored memories (layer inputs of earlier frames) to keys and values.

        Args:
            memory: [B, M, D] hidden states.

        Returns:
            key and value, each [B, H, M, Dh].
        """
        d_model = memory.shape[-1]
        projected = F.linear(self.norm_attn(memory), self.in_proj.weight[d_model:])
        key, value = self._split_heads(projected, 2)
        return key, value

    def attend(
        self,
        hidden: Tensor,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        age: Tensor,
        visible: Tensor,
        span: Tensor | None,
    ) -> AttentionResult:
        """Attend from the query frames over memories, then apply the feed-forward block.

        Args:
            hidden: [B, T, D] layer inputs of the query frames (the residual stream).
            query: [B, H, T, Dh] their queries, from ``project``.
            key: [B, H, M, Dh] keys of the memories (each query frame is among them).
            value: [B, H, M, Dh] values.
            age: [B, T, M] long ages of the memories for each query.
            visible: [B, T, M] bool, True where a query may see a memory at all.
            span: [B, M] spans used for the soft mask, or None for no expiry.

        Returns:
            The layer output, the mask and the attention weights.
        """
        scores = torch.matmul(query, key.transpose(-1, -2)) / math.sqrt(self.head_dim)
        scores = scores + self.age_bias(age)  # [B, H, T, M]

        if span is None:
            mask = visible.to(scores.dtype)
        else:
            mask = expire_mask(span, age, self.ramp) * visible  # [B, T, M]
        scores = scores.masked_fill(~(mask > 0).unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        if span is not None:
            weights = weights * mask.unsqueeze(1)
            # The frame's own weight keeps the sum positive, so the smallest positive number
            # only guards against underflow without biasing the weights.
            eps = torch.finfo(weights.dtype).tiny
            weights = weights / (weights.sum(dim=-1, keepdim=True) + eps)

        attended = torch.matmul(self._dropout(weights), value)  # [B, H, T, Dh]
        attended = attended.transpose(1, 2).reshape(hidden.shape)  # [B, T, D]
        hidden = hidden + self._dropout(self.out(attended))
        hidden = hidden + self._dropout(self.feed_forward(self.norm_ff(hidden)))
        return AttentionResult(hidden=hidden, mask=mask, weights=weights)
