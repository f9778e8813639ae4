"""Per-env acting caches: preallocated buffers of memories that grow one frame per step.

Every env adds exactly one frame per step, so all envs of a layer write the same buffer
column (``fill``). Pruned memories and cleared episodes leave holes that ``valid`` marks;
compaction copies the valid entries of each env to the front of new buffers. It runs at
most once every few steps (amortised O(1) per step), so the padded memory axis stays close
to the largest number of memories any env keeps instead of growing with episode length.

States returned by consecutive steps share these buffers. Two rules keep every state
read-only: columns below a state's ``fill`` are never written again, and only the newest
state of a lineage (``Lineage.tip``) may append in place. Stepping an older state copies
its buffers first (copy-on-write).

Shapes use the letters of ``rl_memory.memory.base``; ``C`` is the buffers' capacity.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

MIN_CAPACITY = 16

# The axis of each buffer that indexes memories.
MEMORY_AXIS = {"hidden": 1, "step": 1, "key": 2, "value": 2, "span": 1}


@dataclass
class LayerBuffers:
    """One layer's memories for all envs, shared by the states of one lineage."""

    hidden: Tensor  # [B, C, D]: layer inputs, kept for the learner's recomputation
    step: Tensor  # [B, C] long: episode step of each memory
    key: Tensor  # [B, H, C, Dh]
    value: Tensor  # [B, H, C, Dh]
    span: Tensor  # [B, C]: expire span (zeros for kinds without expiry)

    @property
    def capacity(self) -> int:
        return int(self.step.shape[1])


class Lineage:
    """Identifies the newest state allowed to append into a set of buffers."""

    def __init__(self) -> None:
        self.tip: object = None


@dataclass
class ActingCache:
    """The acting part of a state beyond the contract fields: buffers, fills and a version tag."""

    layers: list[LayerBuffers]
    fill: list[int]
    version: tuple[tuple[int, int], ...]
    lineage: Lineage
    token: object

    def owns_tip(self) -> bool:
        return self.lineage.tip is self.token


def empty_buffers(
    n_envs: int, capacity: int, d_model: int, n_heads: int, like: Tensor
) -> LayerBuffers:
    """Allocate zeroed buffers, so that holes always hold finite values."""
    head_dim = d_model // n_heads
    device, dtype = like.device, like.dtype
    return LayerBuffers(
        hidden=torch.zeros(n_envs, capacity, d_model, device=device, dtype=dtype),
        step=torch.zeros(n_envs, capacity, dtype=torch.long, device=device),
        key=torch.zeros(n_envs, n_heads, capacity, head_dim, device=device, dtype=dtype),
        value=torch.zeros(n_envs, n_heads, capacity, head_dim, device=device, dtype=dtype),
        span=torch.zeros(n_envs, capacity, device=device, dtype=dtype),
    )


def capacity_for(count: int) -> int:
    """Return the capacity to allocate for ``count`` memories: room to double, a power of 2."""
    return max(MIN_CAPACITY, 1 << (2 * (count + 1) - 1).bit_length())


def compact(
    buffers: LayerBuffers, valid: Tensor, fill: int, capacity: int | None = None
) -> tuple[LayerBuffers, Tensor, int]:
    """Copy each env's valid memories, in their order, to the front of new buffers.

    Args:
        buffers: the current buffers.
        valid: [B, fill] bool.
        fill: columns in use.
        capacity: capacity of the new buffers (default: ``capacity_for`` the largest count).

    Returns:
        The new buffers, the new valid mask [B, count_max] and the new fill (count_max).
    """
    counts = valid.sum(dim=1)
    count_max = int(counts.max()) if valid.numel() > 0 else 0
    n_envs = valid.shape[0]
    if capacity is None:
        capacity = capacity_for(count_max)
    # A stable sort moves valid entries to the front and keeps them in chronological order.
    order = torch.sort((~valid).to(torch.int8), dim=1, stable=True).indices[:, :count_max]

    new = empty_buffers(
        n_envs,
        capacity,
        buffers.hidden.shape[2],
        buffers.key.shape[1],
        buffers.hidden,
    )
    new_valid = torch.arange(count_max, device=valid.device).unsqueeze(0) < counts.unsqueeze(1)
    for name, axis in MEMORY_AXIS.items():
        source = getattr(buffers, name).narrow(axis, 0, fill)
        gathered = _gather_memories(source, axis, order, new_valid)
        getattr(new, name).narrow(axis, 0, count_max).copy_(gathered)
    return new, new_valid, count_max


def _gather_memories(source: Tensor, axis: int, order: Tensor, keep: Tensor) -> Tensor:
    """Gather ``order`` [B, K] along ``axis`` (1 or 2) of ``source``; zero where not ``keep``.

    Zeroing the holes keeps them finite, because attention multiplies them by zero weights.
    """
    if axis == 2:
        order, keep = order.unsqueeze(1), keep.unsqueeze(1)  # broadcast over heads
    while order.dim() < source.dim():
        order, keep = order.unsqueeze(-1), keep.unsqueeze(-1)
    shape = list(source.shape)
    shape[axis] = order.shape[axis]
    gathered = torch.gather(source, axis, order.expand(shape))
    return gathered * keep.to(gathered.dtype)


def needs_compaction(fill: int, count_max: int, capacity: int) -> bool:
    """Return whether the padded axis has grown well past the largest count, or is full."""
    slack = max(8, count_max // 2)
    return fill >= capacity or fill > count_max + slack
