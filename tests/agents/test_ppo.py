"""ExpireSpanPPO in the SB3 API: save/load, callbacks, evaluate_policy, VecEnvs, errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from stable_baselines3.common.callbacks import CheckpointCallback, EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import SubprocVecEnv

from rl_memory.agents import ExpireSpanPPO
from rl_memory.envs import make_env


def _small_model(corridor: Callable, policy_kwargs: Callable, **kwargs: object) -> ExpireSpanPPO:
    options: dict = dict(n_steps=16, batch_envs=2, n_epochs=2, seed=0, device="cpu")
    options.update(kwargs)
    return ExpireSpanPPO(env=corridor(n_envs=2), policy_kwargs=policy_kwargs(), **options)


LOAD_AND_ACT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import torch
    torch.set_num_threads(1)
    from rl_memory.agents import ExpireSpanPPO

    model = ExpireSpanPPO.load(sys.argv[1], device="cpu")
    data = np.load(sys.argv[2])
    keys = [k for k in data.files if k != "episode_starts"]
    state, actions = None, []
    for t in range(len(data["episode_starts"])):
        obs = {k: data[k][t] for k in keys}
        action, state = model.predict(obs, state, data["episode_starts"][t], deterministic=True)
        actions.append(action.tolist())
    print(json.dumps(actions))
    """
)


def test_save_load_in_subprocess_acts_identically(
    corridor: Callable, policy_kwargs: Callable, tmp_path: Path
) -> None:
    model = _small_model(corridor, policy_kwargs)
    model.learn(64)

    # A fixed observation sequence (two envs, random actions, episodes of length 20+ so
    # memory matters) with its episode starts.
    env = corridor(n_envs=2, length=8, seed=3)
    rng = np.random.default_rng(0)
    obs, starts = env.reset(), np.ones(2, dtype=bool)
    sequence: dict[str, list] = {key: [] for key in obs}
    sequence["episode_starts"] = []
    for _ in range(30):
        for key, value in obs.items():
            sequence[key].append(value)
        sequence["episode_starts"].append(starts)
        obs, _, starts, _ = env.step(rng.integers(0, 3, size=2))
    np.savez(tmp_path / "obs.npz", **{k: np.stack(v) for k, v in sequence.items()})

    state, expected = None, []
    for t in range(30):
        step_obs = {k: sequence[k][t] for k in obs}
        action, state = model.predict(
            step_obs, state, sequence["episode_starts"][t], deterministic=True
        )
        expected.append(action.tolist())

    model.save(tmp_path / "model.zip")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            LOAD_AND_ACT,
            str(tmp_path / "model.zip"),
            str(tmp_path / "obs.npz"),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected


def test_saved_zip_leaves_out_memory_state(
    corridor: Callable, policy_kwargs: Callable, tmp_path: Path
) -> None:
    model = _small_model(corridor, policy_kwargs)
    model.learn(32)
    model.save(tmp_path / "model.zip")
    with zipfile.ZipFile(tmp_path / "model.zip") as archive:
        data = json.loads(archive.read("data"))
    assert "_last_memory_state" not in data
    assert "policy_kwargs" in data

    loaded = ExpireSpanPPO.load(tmp_path / "model.zip", env=corridor(n_envs=2), device="cpu")
    assert loaded._last_memory_state is not None
    assert loaded._last_memory_state.retained().sum().item() == 0
    loaded.learn(32, reset_num_timesteps=False)
    assert loaded.num_timesteps == 64


def test_evaluate_policy_runs(corridor: Callable, policy_kwargs: Callable) -> None:
    model = _small_model(corridor, policy_kwargs)
    rewards, lengths = evaluate_policy(
        model, corridor(n_envs=2, seed=5), n_eval_episodes=4, return_episode_rewards=True
    )
    assert len(rewards) == 4
    assert all(0.0 <= reward <= 1.0 for reward in rewards)
    assert all(length >= 1 for length in lengths)


def test_eval_and_checkpoint_callbacks_run(
    corridor: Callable, policy_kwargs: Callable, tmp_path: Path
) -> None:
    model = _small_model(corridor, policy_kwargs)
    eval_callback = EvalCallback(
        corridor(n_envs=1, seed=7),
        n_eval_episodes=2,
        eval_freq=16,
        log_path=str(tmp_path / "eval"),
        best_model_save_path=str(tmp_path / "best"),
    )
    checkpoint = CheckpointCallback(save_freq=16, save_path=str(tmp_path / "checkpoints"))
    model.learn(64, callback=[eval_callback, checkpoint])

    assert len(eval_callback.evaluations_results) >= 2
    assert len(eval_callback.evaluations_successes) >= 2
    assert (tmp_path / "best" / "best_model.zip").exists()
    checkpoints = sorted((tmp_path / "checkpoints").glob("*.zip"))
    assert checkpoints
    ExpireSpanPPO.load(checkpoints[-1], device="cpu")


def test_learns_with_subproc_vec_env(policy_kwargs: Callable) -> None:
    env = make_vec_env(
        lambda: make_env("rl_memory/Corridor-v0", length=4),
        n_envs=2,
        seed=0,
        vec_env_cls=SubprocVecEnv,
    )
    try:
        model = ExpireSpanPPO(env=env, n_steps=16, batch_envs=2, policy_kwargs=policy_kwargs())
        model.learn(32)
        assert model.num_timesteps == 32
    finally:
        env.close()


@pytest.mark.parametrize("span_loss", ["mean", "ramp"])
def test_logs_memory_metrics(
    corridor: Callable, policy_kwargs: Callable, tmp_path: Path, span_loss: str
) -> None:
    model = ExpireSpanPPO(
        env=corridor(n_envs=2),
        n_steps=16,
        batch_envs=2,
        n_epochs=2,
        seed=0,
        span_learning_rate=1e-5,
        policy_kwargs=policy_kwargs(span_loss=span_loss),
    )
    logger = configure(str(tmp_path), ["json"])
    model.set_logger(logger)
    model.learn(64)
    logger.close()  # flushes and closes progress.json
    records = [json.loads(line) for line in (tmp_path / "progress.json").read_text().splitlines()]
    last = records[-1]
    for key in [
        "memory/retained_mean",
        "memory/retained_max",
        "memory/retained_mean/layer1",
        "memory/span_mean",
        "memory/span_max/layer0",
        "memory/span_loss",
        "memory/span_loss/layer1",
        "train/span_learning_rate",
    ]:
        assert key in last, key
    assert last["train/span_learning_rate"] == pytest.approx(1e-5)
    layer_sum = last["memory/span_loss/layer0"] + last["memory/span_loss/layer1"]
    assert layer_sum == pytest.approx(last["memory/span_loss"], rel=1e-4)
    assert last["memory/retained_max"] >= last["memory/retained_mean"] > 0
    groups = {g["name"]: g["lr"] for g in model.policy.optimizer.param_groups}
    assert groups == {"main": pytest.approx(3e-4), "span": pytest.approx(1e-5)}


def test_uneven_batch_envs_uses_every_env(corridor: Callable, policy_kwargs: Callable) -> None:
    model = ExpireSpanPPO(
        env=corridor(n_envs=3), n_steps=8, batch_envs=2, policy_kwargs=policy_kwargs()
    )
    model.learn(24)
    batches = list(model.rollout_buffer.get(2, model.policy.memory.select))
    assert [len(batch.env_indices) for batch in batches] == [2, 1]
    seen = sorted(i for batch in batches for i in batch.env_indices.tolist())
    assert seen == [0, 1, 2]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_envs": 3}, "batch_envs=3 is larger"),
        ({"batch_envs": 0}, "batch_envs=0 is invalid"),
        ({"n_steps": -1}, "n_steps=-1 is invalid"),
    ],
)
def test_invalid_arguments_raise(
    corridor: Callable, policy_kwargs: Callable, kwargs: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ExpireSpanPPO(env=corridor(n_envs=2), policy_kwargs=policy_kwargs(), **kwargs)


def test_missing_env_raises() -> None:
    with pytest.raises(ValueError, match="env is missing"):
        ExpireSpanPPO()
