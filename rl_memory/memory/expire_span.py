"""Expire-Span: a learned span per memory, the soft mask it implies, and the span losses.

Sukhbaatar et al., "Not All Memories are Created Equal: Learning to Forget by Expiring",
ICML 2021 (arXiv 2105.06548). Every memory i gets a span ``e_i = L_max * sigmoid(w . h_i + b)``
from the hidden state ``h_i`` that its layer received. At age ``a = t - i`` the memory's
attention weight is scaled by ``m = clamp(1 + (e_i - a) / R, 0, 1)``: 1 while it is alive,
falling linearly to 0 over the R steps after it expires. The gradient reaches ``e_i`` only
while ``0 < m < 1``.

Shapes use the letters of ``rl_memory.memory.base``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SpanPredictor(nn.Module):
    """Predicts the expire span of each memory from its hidden state; shared by all heads.

    ``e = max_span * sigmoid((w . h + b) / predivide)``. At initialisation ``w = 0`` and
    ``b = predivide * logit(init_fraction)``, so every span starts at
    ``init_fraction * max_span`` whatever the pre-division.
    """

    def __init__(
        self, d_model: int, max_span: int, init_fraction: float, predivide: float = 1.0
    ) -> None:
        super().__init__()
        self.max_span = max_span
        self.predivide = predivide
        self.linear = nn.Linear(d_model, 1)
        nn.init.zeros_(self.linear.weight)
        logit = math.log(init_fraction / (1.0 - init_fraction))
        nn.init.constant_(self.linear.bias, predivide * logit)

    def forward(self, hidden: Tensor) -> Tensor:
        """Return the span of each hidden state.

        Args:
            hidden: [..., D] hidden states of memories.

        Returns:
            [...] spans in steps, in (0, max_span).
        """
        logit = F.linear(hidden, self.linear.weight, self.linear.bias).squeeze(-1) / self.predivide
        return self.max_span * torch.sigmoid(logit)


def expire_mask(span: Tensor, age: Tensor, ramp: int) -> Tensor:
    """Return the soft mask ``clamp(1 + (span - age) / ramp, 0, 1)``.

    Args:
        span: [B, M] span of each memory.
        age: [B, T, M] age of each memory for each query (query step - memory step).
        ramp: R, the number of steps over which the mask falls from 1 to 0.

    Returns:
        [B, T, M] mask values in [0, 1].
    """
    remaining = span.unsqueeze(1) - age.to(span.dtype)
    return (1.0 + remaining / ramp).clamp(0.0, 1.0)


def mean_span_loss(span: Tensor, max_span: int) -> Tensor:
    """Return the mean span as a fraction of ``max_span``: the paper's auxiliary loss.

    Args:
        span: [...] spans of the frames being penalised, with gradients.
        max_span: L_max; dividing by it keeps the loss in [0, 1] for any L_max.

    Returns:
        Scalar loss, before the coefficient alpha.
    """
    return span.mean() / max_span


def ramp_span_loss(mask: Tensor, n_queries: int) -> Tensor:
    """Return the sum of the mask over memories on their ramp, per query.

    Only pairs with ``0 < m < 1`` count, so its gradient reaches exactly the memories whose
    mask is falling: ``1 / (R * n_queries)`` per query-memory pair on the ramp, the gradient
    of the loss in the official Expire-Span code. The value itself is non-negative, so it
    reads as a count of partly expired memories per query.

    Args:
        mask: [B, T, M] soft mask of visible memories (0 where not visible).
        n_queries: number of real queries to average over.

    Returns:
        Scalar loss, before the coefficient alpha.
    """
    on_ramp = (mask > 0) & (mask < 1)
    return (mask * on_ramp).sum() / max(n_queries, 1)


def shorten_spans(span: Tensor, max_span: int, generator: torch.Generator | None = None) -> Tensor:
    """Clamp all spans at ``u * max_span`` with ``u ~ U(0, 1)`` drawn once per call.

    Used during training only: it shows the model what it would lose with shorter spans.

    Args:
        span: [B, M] spans.
        max_span: L_max.
        generator: optional random generator.

    Returns:
        [B, M] shortened spans.
    """
    u = torch.rand((), generator=generator, device=span.device, dtype=span.dtype)
    return span.clamp(max=u * max_span)
