"""API contract of every registered rl-memory task: checkers, seeding, pickling, rendering."""

from __future__ import annotations

import pickle
import warnings
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from minigrid.minigrid_env import MiniGridEnv
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from rl_memory.envs import UnsolvableTaskWarning, make_env, registered_ids

ENV_IDS = registered_ids()
# Small step budgets keep the checks fast on the long presets. No episode of a long corridor
# can succeed within them, which the env warns about.
MAX_STEPS = 40
pytestmark = pytest.mark.filterwarnings("ignore::rl_memory.envs.UnsolvableTaskWarning")
INFO_KEYS = {"cue_steps", "recall_step"}
FINAL_INFO_KEYS = INFO_KEYS | {"recall_correct", "is_success"}
# SB3 checks every 3-D Box as an image for its default CNN; the symbolic 7x7 view is read
# by a small-kernel encoder instead, so this one warning is expected.
SB3_SMALL_IMAGE_WARNING = r"The minimal resolution for an image is 36x36"


def rollout(env: gymnasium.Env, seed: int, n_steps: int) -> list[Any]:
    """Return the transitions of ``n_steps`` seeded random actions, resetting on episode end."""
    env.action_space.seed(seed)
    obs, info = env.reset(seed=seed)
    transitions: list[Any] = [(obs, info)]
    for _ in range(n_steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        transitions.append((obs, reward, terminated, truncated, info))
        if terminated or truncated:
            obs, info = env.reset()
            transitions.append((obs, info))
    return transitions


def assert_same(first: Any, second: Any) -> None:
    assert gymnasium.utils.env_checker.data_equivalence(first, second, exact=True)


def test_registry_has_contract_ids() -> None:
    lengths = (10, 30, 100, 300, 1000, 3000, 10000)
    expected = {"rl_memory/Corridor-v0", "rl_memory/Portal-v0", "rl_memory/Instruction-v0"}
    expected |= {f"rl_memory/Corridor-L{length}-v0" for length in lengths}
    assert expected <= set(ENV_IDS)
    assert any(env_id.startswith("rl_memory/Portal-R") for env_id in ENV_IDS)
    assert any(env_id.startswith("rl_memory/Instruction-D") for env_id in ENV_IDS)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_check_env_clean(env_id: str) -> None:
    env = gymnasium.make(env_id, max_steps=MAX_STEPS)
    assert isinstance(env.unwrapped, MiniGridEnv)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # The checker makes the env again from its spec, with the short MAX_STEPS.
        warnings.filterwarnings("ignore", category=UnsolvableTaskWarning)
        gymnasium_check_env(env.unwrapped, skip_render_check=True)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_sb3_check_env_clean(env_id: str) -> None:
    env = make_env(env_id, max_steps=MAX_STEPS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=SB3_SMALL_IMAGE_WARNING)
        sb3_check_env(env)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_seeded_rollouts_identical(env_id: str) -> None:
    first = rollout(make_env(env_id, max_steps=MAX_STEPS), seed=7, n_steps=50)
    second = rollout(make_env(env_id, max_steps=MAX_STEPS), seed=7, n_steps=50)
    assert len(first) == len(second)
    for step_first, step_second in zip(first, second, strict=True):
        assert_same(step_first, step_second)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_different_seeds_differ(env_id: str) -> None:
    env = gymnasium.make(env_id, max_steps=MAX_STEPS).unwrapped
    layouts = set()
    for seed in range(10):
        env.reset(seed=seed)
        layouts.add(env.grid.encode().tobytes() + str(env.mission).encode())
    assert len(layouts) > 1


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_observations_inside_spaces(env_id: str) -> None:
    raw = gymnasium.make(env_id, max_steps=MAX_STEPS)
    numeric = make_env(env_id, max_steps=MAX_STEPS)
    for env in (raw, numeric):
        for transition in rollout(env, seed=3, n_steps=60):
            assert env.observation_space.contains(transition[0]), transition[0]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_step_returns_python_types(env_id: str) -> None:
    env = gymnasium.make(env_id, max_steps=MAX_STEPS).unwrapped
    env.reset(seed=0)
    _, reward, terminated, truncated, _ = env.step(2)
    assert type(reward) is float
    assert type(terminated) is bool
    assert type(truncated) is bool


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_info_keys_every_step(env_id: str) -> None:
    env = gymnasium.make(env_id, max_steps=MAX_STEPS)
    env.action_space.seed(1)
    _, info = env.reset(seed=1)
    assert set(info) == INFO_KEYS
    assert 0 in info["cue_steps"] or not env_id.startswith("rl_memory/Corridor")
    for _ in range(MAX_STEPS):
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        assert isinstance(info["cue_steps"], tuple)
        assert all(type(index) is int for index in info["cue_steps"])
        assert type(info["recall_step"]) is int
        if terminated or truncated:
            assert set(info) == FINAL_INFO_KEYS
            assert type(info["recall_correct"]) is bool
            assert info["is_success"] == info["recall_correct"]
            return
        assert set(info) == INFO_KEYS
    pytest.fail(f"{env_id} did not end within max_steps={MAX_STEPS}")


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pickled_env_continues_identically(env_id: str) -> None:
    env = gymnasium.make(env_id, max_steps=MAX_STEPS).unwrapped
    env.reset(seed=5)
    for action in (2, 2, 1):
        env.step(action)
    copy = pickle.loads(pickle.dumps(env))
    for action in (2, 0, 2, 2):
        assert_same(env.step(action), copy.step(action))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_rgb_array_frame(env_id: str) -> None:
    env = gymnasium.make(env_id, render_mode="rgb_array", max_steps=MAX_STEPS)
    env.reset(seed=0)
    env.step(2)
    frame = env.render()
    unwrapped = env.unwrapped
    assert isinstance(frame, np.ndarray)
    assert frame.dtype == np.uint8
    assert frame.shape[0] == unwrapped.height * unwrapped.tile_size
    assert frame.shape[1] <= 51 * unwrapped.tile_size
    assert frame.shape[2] == 3
    assert frame.max() > 0


def test_human_render_mode_constructs() -> None:
    env = gymnasium.make("rl_memory/Corridor-v0", render_mode="human")
    assert env.unwrapped.render_mode == "human"
    env.close()


def test_invalid_action_rejected() -> None:
    env = gymnasium.make("rl_memory/Corridor-v0").unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must be 0"):
        env.step(3)
