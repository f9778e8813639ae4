"""Checkpoints: atomic writes, stored configuration, safe loading, and clear rejections."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import torch
from stable_baselines3.common import save_util
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.logger import Logger

from rl_memory.config import RunConfig, apply_overrides
from rl_memory.training import (
    CheckpointError,
    algorithm_for,
    algorithms,
    build_agent_env,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from rl_memory.training.checkpoint import describe_space, load_policy_weights


@pytest.fixture(params=["expire-span", "sb3-ppo"])
def trained(
    request: pytest.FixtureRequest, smoke_config: RunConfig, monkeypatch: pytest.MonkeyPatch
) -> tuple[BaseAlgorithm, RunConfig]:
    """A smoke agent after one update: ExpireSpanPPO, or SB3 PPO as any other algorithm."""
    if request.param == "sb3-ppo":
        monkeypatch.setitem(algorithms._REGISTRY, smoke_config.memory.kind, algorithms.SB3_PPO)
    env = build_agent_env(smoke_config, seed=0)
    model = algorithm_for(smoke_config.memory.kind).build(smoke_config, env)
    model.set_logger(Logger(folder=None, output_formats=[]))  # no SB3-* folder in /tmp
    model.learn(64)
    return model, smoke_config


def save(model: BaseAlgorithm, config: RunConfig, path: Path) -> None:
    env = build_agent_env(config, seed=0)
    save_checkpoint(model, path, config, env, train_wall_time_s=1.5)


def test_round_trip_restores_agent(
    tmp_path: Path, trained: tuple[BaseAlgorithm, RunConfig]
) -> None:
    model, config = trained
    path = tmp_path / "latest.zip"
    save(model, config, path)
    assert [p.name for p in tmp_path.iterdir()] == ["latest.zip"]

    info = read_checkpoint(path)
    assert info.config == config
    assert info.num_timesteps == model.num_timesteps == 64
    assert info.train_wall_time_s == pytest.approx(1.5)

    loaded = load_checkpoint(path, build_agent_env(config, seed=1))
    assert loaded.num_timesteps == 64
    for key, value in model.policy.state_dict().items():
        assert torch.equal(loaded.policy.state_dict()[key], value)
    saved_optimizer = model.policy.optimizer.state_dict()["state"]
    loaded_optimizer = loaded.policy.optimizer.state_dict()["state"]
    assert torch.equal(saved_optimizer[0]["exp_avg"], loaded_optimizer[0]["exp_avg"])


def test_load_onto_fewer_envs(tmp_path: Path, trained: tuple[BaseAlgorithm, RunConfig]) -> None:
    model, config = trained
    path = tmp_path / "latest.zip"
    save(model, config, path)
    assert config.ppo.batch_envs == 4
    loaded = load_checkpoint(path, build_agent_env(config, seed=1, n_envs=2))
    assert loaded.n_envs == 2
    assert getattr(loaded, "batch_envs", 2) == 2
    actions, _ = loaded.predict(loaded.get_env().reset(), deterministic=True)  # type: ignore[union-attr]
    assert actions.shape == (2,)


def test_load_unpickles_nothing(
    tmp_path: Path, trained: tuple[BaseAlgorithm, RunConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, config = trained
    path = tmp_path / "latest.zip"
    save(model, config, path)

    def fail_on_unpickle(*args: object, **kwargs: object) -> None:
        raise AssertionError("cloudpickle.loads was called")

    monkeypatch.setattr(save_util.cloudpickle, "loads", fail_on_unpickle)
    loaded = load_checkpoint(path, build_agent_env(config, seed=1))
    assert loaded.num_timesteps == 64


def test_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        read_checkpoint(tmp_path / "none.zip")


def test_corrupt_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "latest.zip"
    path.write_bytes(b"not a zip file")
    with pytest.raises(CheckpointError, match="corrupt"):
        read_checkpoint(path)


def test_truncated_checkpoint(tmp_path: Path, trained: tuple[BaseAlgorithm, RunConfig]) -> None:
    model, config = trained
    path = tmp_path / "latest.zip"
    save(model, config, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        read_checkpoint(path)


def test_plain_sb3_zip_rejected(tmp_path: Path, trained: tuple[BaseAlgorithm, RunConfig]) -> None:
    model, _ = trained
    path = tmp_path / "plain.zip"
    model.save(path)
    with pytest.raises(CheckpointError, match=r"not from rl-memory: entry rl_memory\.yaml"):
        read_checkpoint(path)


def test_invalid_metadata_rejected(
    tmp_path: Path, trained: tuple[BaseAlgorithm, RunConfig]
) -> None:
    model, _ = trained
    path = tmp_path / "odd.zip"
    model.save(path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("rl_memory.yaml", "format: 1\nconfig: {ppo: {gama: 1}}\n")
    with pytest.raises(CheckpointError, match=r"did you mean 'ppo\.gamma'"):
        read_checkpoint(path)


def test_other_observation_space_rejected(
    tmp_path: Path, trained: tuple[BaseAlgorithm, RunConfig]
) -> None:
    model, config = trained
    path = tmp_path / "latest.zip"
    save(model, config, path)
    smaller_view = apply_overrides(config, ["env.kwargs.agent_view_size=5"])
    with pytest.raises(CheckpointError, match="observation space entry 'image'") as raised:
        load_checkpoint(path, build_agent_env(smaller_view, seed=0), env_id="smaller view")
    assert "env 'smaller view' has" in str(raised.value)
    assert '"shape": [5, 5, 3]' in str(raised.value)


def test_describe_space_distinguishes_shapes() -> None:
    from gymnasium import spaces

    box = spaces.Box(0, 255, (7, 7, 3), dtype="uint8")
    assert describe_space(box) == describe_space(spaces.Box(0, 255, (7, 7, 3), dtype="uint8"))
    assert describe_space(box) != describe_space(spaces.Box(0, 255, (5, 5, 3), dtype="uint8"))
    assert describe_space(spaces.Discrete(3)) != describe_space(spaces.Discrete(7))


def test_policy_weights_start_new_run(
    tmp_path: Path, trained: tuple[BaseAlgorithm, RunConfig]
) -> None:
    model, config = trained
    path = tmp_path / "latest.zip"
    save(model, config, path)
    longer = apply_overrides(config, ["env.kwargs.length=6"])
    env = build_agent_env(longer, seed=0)
    fresh = algorithm_for(longer.memory.kind).build(longer, env)

    load_policy_weights(fresh, path, env, longer)

    assert fresh.num_timesteps == 0
    for key, value in model.policy.state_dict().items():
        assert torch.equal(fresh.policy.state_dict()[key], value)


def test_policy_weights_other_architecture(
    tmp_path: Path, trained: tuple[BaseAlgorithm, RunConfig]
) -> None:
    model, config = trained
    path = tmp_path / "latest.zip"
    save(model, config, path)
    wider = apply_overrides(config, ["encoder.features_dim=24"])
    env = build_agent_env(wider, seed=0)
    fresh = algorithm_for(wider.memory.kind).build(wider, env)
    with pytest.raises(CheckpointError, match="does not fit"):
        load_policy_weights(fresh, path, env, wider)
