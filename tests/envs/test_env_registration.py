"""Registration: fresh interpreters, no torch import, vector-env worker processes."""

from __future__ import annotations

import functools
import subprocess
import sys

import gymnasium
import numpy as np
import pytest
from stable_baselines3.common.vec_env import SubprocVecEnv

from rl_memory.envs import make_env

MODULE_ID = "rl_memory:rl_memory/Corridor-v0"


def run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_import_does_not_import_torch() -> None:
    output = run_python(
        "import sys, rl_memory.envs\n"
        "print('torch' in sys.modules, len(rl_memory.envs.registered_ids()))"
    )
    imported_torch, n_ids = output.split()
    assert imported_torch == "False"
    assert int(n_ids) >= 16


def test_module_prefixed_id_in_fresh_interpreter() -> None:
    output = run_python(
        "import gymnasium; env = gymnasium.make('rl_memory:rl_memory/Corridor-v0'); "
        "obs, info = env.reset(seed=0); print(type(env.unwrapped).__name__, info['cue_steps'])"
    )
    assert output.split() == ["CorridorEnv", "(0,)"]


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_sb3_subprocess_raw_worker(start_method: str) -> None:
    # The worker gets only gymnasium.make and the id, so the "rl_memory:" prefix alone
    # must register the task in the new process.
    vec_env = SubprocVecEnv(
        [functools.partial(gymnasium.make, MODULE_ID)], start_method=start_method
    )
    try:
        obs = vec_env.reset()
        assert obs["image"].shape == (1, 7, 7, 3)
        _, rewards, _, infos = vec_env.step(np.array([2]))
        assert rewards.shape == (1,)
        assert "cue_steps" in infos[0]
    finally:
        vec_env.close()


def test_sb3_subprocess_numeric_workers() -> None:
    vec_env = SubprocVecEnv([functools.partial(make_env, MODULE_ID)] * 2, start_method="spawn")
    try:
        obs = vec_env.reset()
        assert obs["mission"].shape == (2, vec_env.observation_space["mission"].shape[0])
        assert vec_env.observation_space.contains({key: value[0] for key, value in obs.items()})
    finally:
        vec_env.close()


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_gymnasium_async_workers(start_method: str) -> None:
    raw = gymnasium.vector.AsyncVectorEnv(
        [functools.partial(gymnasium.make, MODULE_ID)], context=start_method, shared_memory=False
    )
    numeric = gymnasium.vector.AsyncVectorEnv(
        [functools.partial(make_env, MODULE_ID)], context=start_method
    )
    try:
        raw_obs, _ = raw.reset(seed=0)
        numeric_obs, _ = numeric.reset(seed=0)
        np.testing.assert_array_equal(raw_obs["image"], numeric_obs["image"])
        assert isinstance(raw_obs["mission"][0], str)
        assert numeric_obs["mission"].shape[0] == 1
        _, rewards, _, _, infos = numeric.step(np.array([2]))
        assert rewards.shape == (1,)
        assert "recall_step" in infos
    finally:
        raw.close()
        numeric.close()
