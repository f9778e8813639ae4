"""The contract every episode memory follows: its configuration, state and diagnostics.

Dimension letters used in shapes throughout ``rl_memory.memory``:

- B: environments (acting) or environment chunks (learning)
- T: time steps of a chunk
- M: memories kept for one layer (padded to the longest env)
- H: attention heads
- D: model width
- N: layers

A frame's *step* is its index within the episode: the observation returned by ``reset`` is
step 0, the one after the first action step 1. Ages are ``query step - memory step``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

MemoryKind = Literal["expire-span", "transformer-xl", "all", "none"]
SpanLossKind = Literal["mean", "ramp"]


@dataclass
class MemoryConfig:
    """Hyperparameters of a transformer episode memory; one YAML section maps onto it."""

    kind: MemoryKind = "expire-span"
    d_model: int = 64
    n_layers: int = 1
    n_heads: int = 2
    d_ff: int = 128
    dropout: float = 0.0
    max_span: int = 256
    """L_max: the longest span a memory can be given, in steps (Expire-Span)."""
    ramp: int = 16
    """R: steps over which an expired memory's mask falls from 1 to 0 (Expire-Span)."""
    init_span_fraction: float = 0.6
    """p: every span starts at p * max_span (bias = logit(p), weights = 0)."""
    span_loss: SpanLossKind = "mean"
    """'mean': alpha * mean span; 'ramp': penalise only memories on their ramp."""
    span_loss_coef: float = 0.01
    """alpha, the coefficient of the auxiliary span loss."""
    span_predivide: float = 1.0
    """Divides the span predictor's logit before the sigmoid (1 = off)."""
    span_shortening: float = 0.0
    """Probability, per training forward, of shortening spans at random (0 = off)."""
    window: int = 64
    """K: frames attended by the Transformer-XL window baseline."""
    max_relative_position: int = 1024
    """Ages beyond this share the last bucket of the age encoding, so any age is valid."""
    age_buckets: int = 32
    """Buckets of the learned age bias: half exact ages, half log-spaced up to
    max_relative_position."""


@dataclass
class MemoryState:
    """Per-env caches of one memory module while acting.

    For each layer l, ``hidden[l]`` holds the layer's input hidden state of every frame kept
    in memory, padded across envs; ``step[l]`` holds each frame's episode step and ``valid[l]``
    marks real entries; entries where ``valid`` is False hold undefined values.
    ``episode_step`` is the step that the next frame of each env gets. All tensors are
    detached and must be treated as read-only, because states returned by consecutive
    ``step`` calls share storage.

    ``cache`` is private to the memory module that produced the state (keys, values and
    spans over preallocated buffers). It is optional: a state without it, or one whose cache
    was computed with other parameter values, is rebuilt from ``hidden`` on the next step.
    """

    hidden: list[Tensor] = field(default_factory=list)  # N x [B, M_l, D]
    step: list[Tensor] = field(default_factory=list)  # N x [B, M_l] long
    valid: list[Tensor] = field(default_factory=list)  # N x [B, M_l] bool
    episode_step: Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.long))  # [B]
    cache: Any = None

    @property
    def n_envs(self) -> int:
        return int(self.episode_step.shape[0])

    def retained(self) -> Tensor:
        """Return the number of memories kept per layer and env, shape [N, B]."""
        if not self.valid:
            return torch.zeros(0, self.n_envs, dtype=torch.long)
        return torch.stack([v.sum(dim=1) for v in self.valid])


@dataclass
class MemoryDiagnostics:
    """Diagnostics of one forward of a memory, for losses, metrics and figures.

    Shapes are given for acting (one frame per env); in learning mode a T axis follows B.
    """

    span_loss: Tensor
    """Scalar auxiliary loss, already multiplied by span_loss_coef (0 for kinds without spans)."""
    retained: Tensor
    """[N, B] (or [N, B, T]): memories each query attended to (mask > 0), itself included."""
    span: Tensor | None = None
    """[N, B] (or [N, B, T]): predicted span e_i of the new frame(s); None without expiry."""
    memory_span: list[Tensor] | None = None
    """N x [B, M]: current spans of the memories attended (acting, Expire-Span only)."""
    memory_step: list[Tensor] | None = None
    """N x [B, M]: episode step of each memory attended, padded with -1."""
    mask: list[Tensor] | None = None
    """N x [B, M] (or [B, T, M]): the soft mask m_ti of each memory for each query."""
    attention: list[Tensor] | None = None
    """N x [B, H, M] (or [B, H, T, M]): attention weights, only when requested."""


class EpisodeMemory(nn.Module, ABC):
    """A memory over the frames of the current episode, stepped one frame at a time.

    Acting (``step``) and learning (``forward_sequence``) share one code path, so for the
    same parameters they give the same outputs.
    """

    config: MemoryConfig

    @property
    def d_model(self) -> int:
        return self.config.d_model

    def span_parameters(self) -> list[nn.Parameter]:
        """Return the span predictors' parameters (empty for kinds without expiry)."""
        return []

    def set_max_span(self, max_span: int) -> None:
        """Set L_max, the maximum span, of a memory whose memories expire.

        Raises:
            ValueError: For kinds without expiry, which have no spans to scale.
        """
        raise ValueError(
            f"max_span applies to expire-span memories only, not to {self.config.kind}"
        )

    @abstractmethod
    def initial_state(self, n_envs: int, device: torch.device | str = "cpu") -> MemoryState:
        """Return an empty state for ``n_envs`` environments."""

    @abstractmethod
    def step(
        self,
        x: Tensor,
        state: MemoryState,
        episode_start: Tensor,
        return_attention: bool = False,
    ) -> tuple[Tensor, MemoryState, MemoryDiagnostics]:
        """Process one frame per env and return its output and the updated state.

        Args:
            x: [B, D] encoded frames.
            state: the state after the previous frame; not modified.
            episode_start: [B] bool, True where ``x`` is the first frame of an episode. Those
                envs' caches are cleared before the frame is processed.
            return_attention: also return attention weights in the diagnostics.

        Returns:
            out [B, D], the new state (with this frame added and expired memories pruned),
            and diagnostics.
        """

    @abstractmethod
    def forward_sequence(
        self,
        x: Tensor,
        episode_start: Tensor,
        state: MemoryState,
        return_attention: bool = False,
    ) -> tuple[Tensor, MemoryDiagnostics]:
        """Recompute a chunk of consecutive frames per env with the current parameters.

        Each frame attends to earlier frames of its own episode inside the chunk and, for
        frames before the chunk's first episode start, to the memories carried in by
        ``state``. Spans and masks of carried memories are recomputed from their stored hidden
        states, so gradients reach the span predictor.

        Args:
            x: [B, T, D] encoded frames, with gradients.
            episode_start: [B, T] bool.
            state: the acting state from just before frame 0 of the chunk (detached).
            return_attention: also return attention weights.

        Returns:
            out [B, T, D] and diagnostics.
        """

    def select(self, state: MemoryState, env_indices: Tensor) -> MemoryState:
        """Return the state of a subset of envs, e.g. for a minibatch of env chunks.

        The acting cache is not carried over; the next ``step`` rebuilds it from ``hidden``.
        """
        return MemoryState(
            hidden=[h[env_indices] for h in state.hidden],
            step=[s[env_indices] for s in state.step],
            valid=[v[env_indices] for v in state.valid],
            episode_step=state.episode_step[env_indices],
        )
