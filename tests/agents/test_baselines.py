"""Baselines: LSTM, frame stacking and no memory, through the same command and encoder."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from stable_baselines3.common.vec_env import VecFrameStack

from rl_memory.agents.baselines import (
    BASELINE_NET_ARCH,
    StackedFramesExtractor,
    frame_stack_size,
    wrap_frame_stack,
)
from rl_memory.agents.encoder import MemoryFeaturesExtractor
from rl_memory.cli import main
from rl_memory.config import RunConfig, load_preset, set_value
from rl_memory.training import algorithm_for, build_agent_env, build_vec_env

BASELINE_KINDS = ("lstm", "frame-stack", "none")
SMOKE_LENGTH = 3  # env.kwargs.length of the smoke preset; it has the default 2 colours


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module", params=BASELINE_KINDS)
def baseline_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A smoke run of one baseline, trained through ``rl-memory train``."""
    torch.set_num_threads(1)
    run_dir = tmp_path_factory.mktemp("runs") / request.param
    argv = ["train", "--env", "smoke", "--memory", request.param, "--run-dir", str(run_dir)]
    status, _, err = run_cli(argv)
    assert status == 0, err
    return run_dir


def test_baseline_run_writes_eval(baseline_run: Path) -> None:
    record = json.loads((baseline_run / "eval.json").read_text())
    assert record["memory_kind"] == baseline_run.name
    assert record["episodes"] >= 100
    assert record["env_steps"] == 256
    assert 0.0 <= record["success_rate"] <= 1.0
    assert (baseline_run / "checkpoints/latest.zip").is_file()


def test_baseline_checkpoint_reproduces_eval(baseline_run: Path, tmp_path: Path) -> None:
    """The reloaded final agent, on the same evaluation seed, repeats the run's evaluation."""
    output = tmp_path / "eval.json"
    status, _, err = run_cli(["eval", str(baseline_run), "--output", str(output)])
    assert status == 0, err
    trained = json.loads((baseline_run / "eval.json").read_text())
    reloaded = json.loads(output.read_text())
    for key in ("episodes", "success_rate", "mean_return", "mean_episode_length"):
        assert reloaded[key] == trained[key], key


def test_baseline_evaluates_on_longer_corridor(baseline_run: Path, tmp_path: Path) -> None:
    output = tmp_path / "eval.json"
    argv = ["eval", str(baseline_run), "--episodes", "8", "--output", str(output)]
    argv += ["--set", "env.kwargs.length=6", "--set", "env.kwargs.max_steps=20"]
    status, _, err = run_cli(argv)
    assert status == 0, err
    record = json.loads(output.read_text())
    assert record["env_kwargs"]["length"] == 6
    assert record["episodes"] == 8


def test_baseline_rejects_max_span(baseline_run: Path) -> None:
    status, _, err = run_cli(["eval", str(baseline_run), "--set", "memory.max_span=100"])
    assert status == 2
    assert f"memory.kind is '{baseline_run.name}'" in err
    assert "remove --set memory.max_span" in err
    assert not (baseline_run / "evals").exists()


def test_frame_stack_size_recorded_in_run(baseline_run: Path) -> None:
    config = yaml.safe_load((baseline_run / "config.yaml").read_text())
    if baseline_run.name == "frame-stack":
        assert config["memory"]["frame_stack"] == SMOKE_LENGTH + 2 * 2 + 4
    else:
        assert config["memory"]["frame_stack"] == 0


@pytest.mark.parametrize("kind", BASELINE_KINDS)
def test_baselines_share_encoder_and_heads(kind: str) -> None:
    config = load_preset("smoke")
    set_value(config, "memory.kind", kind)
    env = build_agent_env(config, seed=0)
    model = algorithm_for(kind).build(config, env)
    extractor = model.policy.features_extractor
    if kind == "frame-stack":
        assert isinstance(extractor, StackedFramesExtractor)
        assert extractor.features_dim == config.memory.frame_stack * config.encoder.features_dim
        encoder_config = extractor.encoder.config
    else:
        assert isinstance(extractor, MemoryFeaturesExtractor)
        encoder_config = extractor.encoder.config
    assert encoder_config == config.encoder
    assert model.policy.normalize_images is False
    assert model.policy.net_arch == BASELINE_NET_ARCH
    assert model.batch_size == config.ppo.batch_envs * config.ppo.n_steps
    if kind == "lstm":
        assert model.policy.lstm_actor.hidden_size == config.memory.d_model
    env.close()


def corridor_config(length: int, frame_stack: int = 0) -> RunConfig:
    config = load_preset("smoke")
    set_value(config, "memory.kind", "frame-stack")
    set_value(config, "env.kwargs", {"length": length})
    set_value(config, "memory.frame_stack", frame_stack)
    return config


def test_frame_stack_size_rules() -> None:
    config = corridor_config(length=7)
    env = build_vec_env(config.env, seed=0, n_envs=1)
    assert frame_stack_size(config, env) == 7 + 2 * 2 + 4
    set_value(config, "memory.frame_stack", 5)
    assert frame_stack_size(config, env) == 5
    env.close()


def test_frame_stack_size_needs_length() -> None:
    config = corridor_config(length=3)
    set_value(config, "env.id", "rl_memory/Portal-v0")
    set_value(config, "env.kwargs", {})
    env = build_vec_env(config.env, seed=0, n_envs=1)
    with pytest.raises(ValueError, match=r"memory.frame_stack=16"):
        frame_stack_size(config, env)
    env.close()


def test_frame_stack_keeps_cue_at_recall() -> None:
    """Walking the corridor, the stack still contains the first observation at the hallway."""
    length = 4
    config = corridor_config(length=length)
    set_value(config, "env.kwargs.start_jitter", 0)
    raw = build_vec_env(config.env, seed=3, n_envs=1)
    first = raw.reset()
    raw.close()

    env = wrap_frame_stack(build_vec_env(config.env, seed=3, n_envs=1), config)
    n_stack = config.memory.frame_stack
    assert isinstance(env, VecFrameStack)
    obs = env.reset()
    for _ in range(length):
        obs, _, _, infos = env.step(np.array([2]))  # forward
    assert infos[0]["recall_step"] == length
    image = obs["image"].reshape(1, 7, 7, n_stack, 3)
    assert np.array_equal(image[0, :, :, n_stack - 1 - length], first["image"][0])
    assert not image[0, :, :, : n_stack - 1 - length].any()  # frames before the reset are zeros
    assert obs["direction"].shape == (1, n_stack)
    env.close()


def naive_features(extractor: StackedFramesExtractor, obs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Encode every frame of every stack on its own, without finding distinct frames."""
    k = extractor.n_stack
    batch = obs["image"].shape[0]
    rows = []
    for b in range(batch):
        features = []
        for i in range(k):
            frame = {
                "image": obs["image"][b : b + 1].reshape(1, 7, 7, k, 3)[:, :, :, i].long(),
                "direction": obs["direction"][b : b + 1, i].long(),
                "mission": obs["mission"][b : b + 1].reshape(1, k, -1)[:, i].long(),
            }
            features.append(extractor.encoder(frame))
        rows.append(torch.cat(features, dim=1))
    return torch.cat(rows)


@pytest.mark.parametrize("force_collisions", [False, True])
def test_stacked_extractor_equals_per_frame(force_collisions: bool) -> None:
    torch.manual_seed(0)
    config = corridor_config(length=3, frame_stack=4)
    env = wrap_frame_stack(build_vec_env(config.env, seed=0, n_envs=4), config)
    model = algorithm_for("frame-stack").build(config, env)
    extractor = model.policy.features_extractor
    assert isinstance(extractor, StackedFramesExtractor)
    if force_collisions:
        extractor.hash_weights = {k: 0 * w for k, w in extractor.hash_weights.items()}

    batches = [env.reset()]
    rng = np.random.default_rng(0)
    for _ in range(6):
        batches.append(env.step(rng.integers(0, 3, size=4))[0])
    obs = {
        key: torch.as_tensor(np.concatenate([b[key] for b in batches])).float()
        for key in batches[0]
    }

    expected = naive_features(extractor, obs)
    actual = extractor(obs)
    assert actual.shape == (28, 4 * config.encoder.features_dim)
    torch.testing.assert_close(actual, expected)
    env.close()
