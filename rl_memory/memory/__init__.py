"""Episode memories for RL agents: Expire-Span, a Transformer-XL window, all memories, none.

``build_memory(MemoryConfig(kind=...))`` returns an ``EpisodeMemory``: ``step`` while acting
(one frame per env, explicit state, ``episode_start``) and ``forward_sequence`` while learning
(chunks of frames recomputed with the current parameters). See ``docs/memory.md``.
"""

from __future__ import annotations

from rl_memory.memory.base import (
    EpisodeMemory,
    MemoryConfig,
    MemoryDiagnostics,
    MemoryKind,
    MemoryState,
    SpanLossKind,
)
from rl_memory.memory.none import NoMemory
from rl_memory.memory.transformer import TransformerMemory
from rl_memory.memory.validation import MEMORY_KINDS, validate_config

__all__ = [
    "MEMORY_KINDS",
    "EpisodeMemory",
    "MemoryConfig",
    "MemoryDiagnostics",
    "MemoryKind",
    "MemoryState",
    "NoMemory",
    "SpanLossKind",
    "TransformerMemory",
    "build_memory",
    "validate_config",
]


def build_memory(config: MemoryConfig) -> EpisodeMemory:
    """Build the episode memory that ``config.kind`` names, after validating ``config``.

    Raises:
        ValueError: a field of ``config`` is out of range; the message names the field, its
            value, the allowed values and the fix.
    """
    validate_config(config)
    if config.kind == "none":
        return NoMemory(config)
    return TransformerMemory(config)
