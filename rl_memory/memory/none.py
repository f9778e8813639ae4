"""The memoryless kind: each frame passes through a feed-forward block on its own.

It keeps the agent's code path (``step``, ``forward_sequence``, diagnostics) identical to the
memory kinds, with an empty state and a zero span loss, so that a memoryless baseline differs
from the others only in what it can remember. The block is pre-LN, like the memory layers:
``norm_out(x + FF(LN(x)))``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rl_memory.memory.base import EpisodeMemory, MemoryConfig, MemoryDiagnostics, MemoryState
from rl_memory.memory.validation import check_sequence_inputs, check_step_inputs


class NoMemory(EpisodeMemory):
    """A per-frame feed-forward block with the EpisodeMemory interface and no memory."""

    def __init__(self, config: MemoryConfig) -> None:
        super().__init__()
        self.config = config
        self.kind = config.kind
        d = config.d_model
        self.norm_ff = nn.LayerNorm(d)
        self.feed_forward = nn.Sequential(
            nn.Linear(d, config.d_ff), nn.GELU(), nn.Linear(config.d_ff, d)
        )
        self.dropout = nn.Dropout(config.dropout)
        self.norm_out = nn.LayerNorm(d)

    def _forward(self, x: Tensor) -> Tensor:
        return self.norm_out(x + self.dropout(self.feed_forward(self.norm_ff(x))))

    def initial_state(self, n_envs: int, device: torch.device | str = "cpu") -> MemoryState:
        dtype = self.norm_out.weight.dtype
        n_layers = self.config.n_layers
        return MemoryState(
            hidden=[torch.zeros(n_envs, 0, self.config.d_model, dtype=dtype, device=device)]
            * n_layers,
            step=[torch.zeros(n_envs, 0, dtype=torch.long, device=device)] * n_layers,
            valid=[torch.zeros(n_envs, 0, dtype=torch.bool, device=device)] * n_layers,
            episode_step=torch.zeros(n_envs, dtype=torch.long, device=device),
        )

    def _diagnostics(self, shape: tuple[int, ...], like: Tensor) -> MemoryDiagnostics:
        return MemoryDiagnostics(
            span_loss=like.new_zeros(()),
            retained=torch.zeros(
                self.config.n_layers, *shape, dtype=torch.long, device=like.device
            ),
        )

    def step(
        self,
        x: Tensor,
        state: MemoryState,
        episode_start: Tensor,
        return_attention: bool = False,
    ) -> tuple[Tensor, MemoryState, MemoryDiagnostics]:
        check_step_inputs(x, state, episode_start, self.config)
        start = episode_start.to(device=x.device, dtype=torch.bool)
        episode_step = torch.where(start, torch.zeros_like(state.episode_step), state.episode_step)
        new_state = MemoryState(
            hidden=list(state.hidden),
            step=list(state.step),
            valid=list(state.valid),
            episode_step=episode_step + 1,
        )
        return self._forward(x), new_state, self._diagnostics((x.shape[0],), x)

    def forward_sequence(
        self,
        x: Tensor,
        episode_start: Tensor,
        state: MemoryState,
        return_attention: bool = False,
    ) -> tuple[Tensor, MemoryDiagnostics]:
        check_sequence_inputs(x, episode_start, state, self.config)
        return self._forward(x), self._diagnostics(tuple(x.shape[:2]), x)
