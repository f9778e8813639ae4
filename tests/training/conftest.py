"""Fixtures for the run-management tests: a tiny configuration and a fast agent."""

from __future__ import annotations

import pytest
import torch

from rl_memory.config import RunConfig, apply_overrides, load_preset
from rl_memory.training import algorithms


@pytest.fixture(autouse=True)
def one_torch_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def sb3_ppo_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Train every memory kind with SB3 PPO, the algorithm-agnostic stand-in."""
    for kind in algorithms.algorithm_kinds():
        monkeypatch.setitem(algorithms._REGISTRY, kind, algorithms.SB3_PPO)


@pytest.fixture
def smoke_config() -> RunConfig:
    """The smoke preset with only the final evaluation, to keep tests short."""
    return apply_overrides(load_preset("smoke"), ["train.eval_interval=0"])
