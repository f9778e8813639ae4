"""build_memory: the kinds it builds, the configs it rejects, and the none kind's behaviour."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from rl_memory.memory import (
    MEMORY_KINDS,
    MemoryConfig,
    NoMemory,
    TransformerMemory,
    build_memory,
)


@pytest.mark.parametrize("kind", MEMORY_KINDS)
def test_every_kind_steps_and_learns(kind: str) -> None:
    memory = build_memory(MemoryConfig(kind=kind, d_model=8, n_heads=2, d_ff=16))  # type: ignore[arg-type]
    state = memory.initial_state(3)
    out, state, diagnostics = memory.step(torch.randn(3, 8), state, torch.ones(3, dtype=torch.bool))
    assert out.shape == (3, 8)
    assert diagnostics.retained.shape == (1, 3)
    assert diagnostics.span_loss.shape == ()
    sequence, learned = memory.forward_sequence(
        torch.randn(3, 5, 8), torch.zeros(3, 5, dtype=torch.bool), state
    )
    assert sequence.shape == (3, 5, 8)
    assert learned.retained.shape == (1, 3, 5)
    assert state.retained().shape == (1, 3)


def test_span_parameters_only_for_expire_span() -> None:
    expire = build_memory(MemoryConfig(kind="expire-span", n_layers=2))
    assert len(expire.span_parameters()) == 4
    parameter_ids = {id(p) for p in expire.parameters()}
    assert all(id(p) in parameter_ids for p in expire.span_parameters())
    for kind in ("transformer-xl", "all", "none"):
        assert build_memory(MemoryConfig(kind=kind)).span_parameters() == []  # type: ignore[arg-type]


def test_kind_classes() -> None:
    assert isinstance(build_memory(MemoryConfig(kind="none")), NoMemory)
    assert isinstance(build_memory(MemoryConfig(kind="all")), TransformerMemory)


def test_none_kind_is_memoryless() -> None:
    memory = build_memory(MemoryConfig(kind="none", d_model=8, n_heads=2, d_ff=16))
    state = memory.initial_state(2)
    frames = torch.randn(2, 8)
    first, state, diagnostics = memory.step(frames, state, torch.ones(2, dtype=torch.bool))
    for _ in range(3):
        _, state, _ = memory.step(torch.randn(2, 8), state, torch.zeros(2, dtype=torch.bool))
    again, state, _ = memory.step(frames, state, torch.zeros(2, dtype=torch.bool))
    assert torch.allclose(first, again)
    assert diagnostics.span_loss.item() == 0.0
    assert state.retained().sum() == 0
    assert state.episode_step.tolist() == [5, 5]


@pytest.mark.parametrize(
    ("changes", "field", "fix"),
    [
        ({"kind": "expire_span"}, "kind", "Did you mean 'expire-span'"),
        ({"kind": "lstm"}, "kind", "Allowed values"),
        ({"span_loss": "mena"}, "span_loss", "Did you mean 'mean'"),
        ({"d_model": 30, "n_heads": 4}, "d_model", "multiple of n_heads"),
        ({"ramp": 0}, "ramp", ">= 1"),
        ({"init_span_fraction": 1.0}, "init_span_fraction", "(0.0, 1.0)"),
        ({"init_span_fraction": 0}, "init_span_fraction", "(0.0, 1.0)"),
        ({"max_span": 12.5}, "max_span", "not an integer"),
        ({"n_layers": True}, "n_layers", "not an integer"),
        ({"dropout": 1.0}, "dropout", "[0.0, 1.0)"),
        ({"span_loss_coef": -0.1}, "span_loss_coef", "[0.0, inf)"),
        ({"span_predivide": 0.0}, "span_predivide", "(0.0, inf)"),
        ({"span_shortening": 1.5}, "span_shortening", "[0.0, 1.0]"),
        ({"window": 0}, "window", ">= 1"),
        ({"max_relative_position": 0}, "max_relative_position", "[1, 1000000]"),
        ({"age_buckets": 1}, "age_buckets", ">= 2"),
    ],
)
def test_invalid_config_names_field(changes: dict, field: str, fix: str) -> None:
    config = dataclasses.replace(MemoryConfig(), **changes)
    with pytest.raises(ValueError, match=f"memory.{field}") as error:
        build_memory(config)
    assert fix in str(error.value)


def test_bad_step_inputs_raise() -> None:
    memory = build_memory(MemoryConfig(d_model=8, n_heads=2))
    state = memory.initial_state(2)
    with pytest.raises(ValueError, match="expected \\[n_envs, d_model\\]"):
        memory.step(torch.randn(2, 9), state, torch.zeros(2, dtype=torch.bool))
    with pytest.raises(ValueError, match="contains 2 envs but x has 3"):
        memory.step(torch.randn(3, 8), state, torch.zeros(3, dtype=torch.bool))
    with pytest.raises(ValueError, match="one flag per env"):
        memory.step(torch.randn(2, 8), state, torch.zeros(2, 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="one flag per frame"):
        memory.forward_sequence(torch.randn(2, 4, 8), torch.zeros(2, 3, dtype=torch.bool), state)
