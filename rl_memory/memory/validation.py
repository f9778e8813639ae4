"""Checks of memory configurations and of the tensors handed to a memory."""

from __future__ import annotations

import difflib
from typing import get_args

from torch import Tensor

from rl_memory.memory.base import MemoryConfig, MemoryKind, MemoryState, SpanLossKind

MEMORY_KINDS: tuple[str, ...] = get_args(MemoryKind)
SPAN_LOSS_KINDS: tuple[str, ...] = get_args(SpanLossKind)
MAX_RELATIVE_POSITION_LIMIT = 1_000_000


def _choice_error(name: str, value: object, allowed: tuple[str, ...]) -> ValueError:
    close = difflib.get_close_matches(str(value), allowed, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ValueError(
        f"Invalid memory.{name}: {value!r}. Allowed values: {', '.join(map(repr, allowed))}.{hint}"
    )


def _check_int(config: MemoryConfig, name: str, low: int, high: int | None = None) -> None:
    value = getattr(config, name)
    limit = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"Invalid memory.{name}: {value!r} is not an integer; set it to {limit}.")
    if value < low or (high is not None and value > high):
        raise ValueError(f"Invalid memory.{name}: {value}; set it to {limit}.")


def _check_float(
    config: MemoryConfig, name: str, low: float, high: float, *, low_open: bool, high_open: bool
) -> None:
    value = getattr(config, name)
    interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(
            f"Invalid memory.{name}: {value!r} is not a number; use one in {interval}."
        )
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        raise ValueError(f"Invalid memory.{name}: {value}; it must lie in {interval}.")


def validate_config(config: MemoryConfig) -> None:
    """Raise ValueError naming the first invalid field of ``config``, its range and the fix."""
    if not isinstance(config, MemoryConfig):
        raise ValueError(
            f"Invalid memory config: expected a MemoryConfig, got {type(config).__name__}; "
            "build one with rl_memory.memory.MemoryConfig(...)."
        )
    if config.kind not in MEMORY_KINDS:
        raise _choice_error("kind", config.kind, MEMORY_KINDS)
    if config.span_loss not in SPAN_LOSS_KINDS:
        raise _choice_error("span_loss", config.span_loss, SPAN_LOSS_KINDS)

    for name in ("d_model", "n_layers", "n_heads", "d_ff", "max_span", "ramp", "window"):
        _check_int(config, name, 1)
    _check_int(config, "max_relative_position", 1, MAX_RELATIVE_POSITION_LIMIT)
    _check_int(config, "age_buckets", 2)
    if config.d_model % config.n_heads != 0:
        raise ValueError(
            f"Invalid memory.d_model: {config.d_model} is not divisible by memory.n_heads = "
            f"{config.n_heads}; choose d_model as a multiple of n_heads (e.g. "
            f"{config.n_heads * max(1, round(config.d_model / config.n_heads))})."
        )

    _check_float(config, "dropout", 0.0, 1.0, low_open=False, high_open=True)
    _check_float(config, "init_span_fraction", 0.0, 1.0, low_open=True, high_open=True)
    _check_float(config, "span_loss_coef", 0.0, float("inf"), low_open=False, high_open=True)
    _check_float(config, "span_predivide", 0.0, float("inf"), low_open=True, high_open=True)
    _check_float(config, "span_shortening", 0.0, 1.0, low_open=False, high_open=False)


def check_step_inputs(
    x: Tensor, state: MemoryState, episode_start: Tensor, config: MemoryConfig
) -> None:
    """Raise ValueError when ``step`` inputs disagree in shape with each other or the config."""
    if x.dim() != 2 or x.shape[1] != config.d_model:
        raise ValueError(
            f"Invalid x for step: shape {tuple(x.shape)}; expected [n_envs, d_model] with "
            f"d_model = {config.d_model}. Encode one frame per env before calling step."
        )
    if tuple(episode_start.shape) != (x.shape[0],):
        raise ValueError(
            f"Invalid episode_start for step: shape {tuple(episode_start.shape)}; expected "
            f"[{x.shape[0]}], one flag per env."
        )
    if state.n_envs != x.shape[0]:
        raise ValueError(
            f"Invalid state for step: it contains {state.n_envs} envs but x has {x.shape[0]}; "
            "start from memory.initial_state(n_envs) or select the matching envs."
        )


def check_sequence_inputs(
    x: Tensor, episode_start: Tensor, state: MemoryState, config: MemoryConfig
) -> None:
    """Raise ValueError when ``forward_sequence`` inputs disagree in shape."""
    if x.dim() != 3 or x.shape[2] != config.d_model or x.shape[1] == 0:
        raise ValueError(
            f"Invalid x for forward_sequence: shape {tuple(x.shape)}; expected "
            f"[n_chunks, n_steps >= 1, d_model] with d_model = {config.d_model}."
        )
    if tuple(episode_start.shape) != tuple(x.shape[:2]):
        raise ValueError(
            f"Invalid episode_start for forward_sequence: shape {tuple(episode_start.shape)}; "
            f"expected {tuple(x.shape[:2])}, one flag per frame."
        )
    if state.n_envs != x.shape[0]:
        raise ValueError(
            f"Invalid state for forward_sequence: it contains {state.n_envs} envs but x has "
            f"{x.shape[0]} chunks; pass memory.select(state, env_indices) for the chunks."
        )
