"""Shared pieces of the agent tests: a tiny T-maze stand-in and corridor VecEnvs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnv

from rl_memory.agents import EncoderConfig
from rl_memory.envs import make_env
from rl_memory.memory import MemoryConfig

GRID_SIZE = 5
N_TOKENS = 4
VOCAB_SIZE = 8
FORWARD = 2


class TinyTMaze(gym.Env):
    """A T-maze whose cue (colour 1 or 2) is visible at step 0 only.

    After ``length`` forward moves the agent must pick the arm matching the cue: action 0 for
    colour 1, action 1 for colour 2.

    Actions: 0 left arm, 1 right arm, 2 forward. Turning before the end does nothing.
    Reward 1 for the matching arm, 0 for the other; both end the episode. Episodes are
    truncated after ``max_steps``.
    """

    def __init__(self, length: int = 3, dict_obs: bool = True, max_steps: int | None = None):
        self.length = length
        self.dict_obs = dict_obs
        self.max_steps = max_steps if max_steps is not None else 2 * length + 4
        self.action_space = spaces.Discrete(3)
        if dict_obs:
            self.observation_space = spaces.Dict(
                {
                    "image": spaces.Box(0, 255, (GRID_SIZE, GRID_SIZE, 3), np.uint8),
                    "direction": spaces.Discrete(4),
                    "mission": spaces.MultiDiscrete([VOCAB_SIZE] * N_TOKENS),
                }
            )
        else:
            self.observation_space = spaces.Box(0.0, 1.0, (4,), np.float32)

    def _obs(self) -> Any:
        cue = self.cue if self.position == 0 else 0
        at_end = float(self.position == self.length)
        if not self.dict_obs:
            return np.array([cue == 1, cue == 2, at_end, self.position / self.length], np.float32)
        image = np.zeros((GRID_SIZE, GRID_SIZE, 3), np.uint8)
        image[:, :, 0] = 1
        image[0, 0, 1] = cue
        image[1, 1, 0] = 2 if at_end else 1
        mission = np.zeros(N_TOKENS, np.int64)
        mission[:2] = (3, 4) if self.position == 0 else (0, 0)
        return {"image": image, "direction": self.position % 4, "mission": mission}

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self.cue = int(self.np_random.integers(1, 3))
        self.position = 0
        self.steps = 0
        return self._obs(), {}

    def step(self, action: int) -> tuple[Any, float, bool, bool, dict]:
        self.steps += 1
        terminated, reward, info = False, 0.0, {}
        if self.position == self.length and action in (0, 1):
            terminated = True
            reward = float(action + 1 == self.cue)
            info["is_success"] = reward > 0
        elif action == FORWARD and self.position < self.length:
            self.position += 1
        truncated = not terminated and self.steps >= self.max_steps
        if truncated:
            info["is_success"] = False
        return self._obs(), reward, terminated, truncated, info


@pytest.fixture(autouse=True)
def _one_torch_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def tmaze() -> type[TinyTMaze]:
    return TinyTMaze


@pytest.fixture
def dict_space() -> spaces.Dict:
    return TinyTMaze(dict_obs=True).observation_space


@pytest.fixture
def box_space() -> spaces.Box:
    return TinyTMaze(dict_obs=False).observation_space


def corridor_vec_env(n_envs: int = 2, length: int = 4, seed: int = 0) -> VecEnv:
    """Return the corridor task as an SB3 DummyVecEnv with Monitor wrappers."""
    return make_vec_env(
        lambda: make_env("rl_memory/Corridor-v0", length=length), n_envs=n_envs, seed=seed
    )


def small_policy_kwargs(kind: str = "expire-span", **memory_fields: Any) -> dict[str, Any]:
    """Return policy_kwargs for a small memory (two layers of width 16) and encoder."""
    fields: dict[str, Any] = dict(
        kind=kind, d_model=16, n_layers=2, n_heads=2, d_ff=32, max_span=12, ramp=4, window=4
    )
    fields.update(memory_fields)
    return {"memory": MemoryConfig(**fields), "encoder": EncoderConfig(features_dim=16)}


@pytest.fixture
def corridor() -> Callable[..., VecEnv]:
    return corridor_vec_env


@pytest.fixture
def policy_kwargs() -> Callable[..., dict[str, Any]]:
    return small_policy_kwargs
