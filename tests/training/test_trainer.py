"""Training runs end to end with a fast stand-in agent: folder, evaluation, resume."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from rl_memory.config import RunConfig, apply_overrides
from rl_memory.training import (
    RunDirError,
    RunError,
    algorithm_for,
    read_checkpoint,
    resume,
    train,
)
from rl_memory.training.evaluation import MIN_FINAL_EPISODES


@pytest.fixture
def finished_run(smoke_config: RunConfig, tmp_path: Path) -> Path:
    """A finished 256-step smoke run of ExpireSpanPPO with one periodic evaluation."""
    config = apply_overrides(smoke_config, ["train.eval_interval=128"])
    run_dir = tmp_path / "run"
    train(config, run_dir, progress=io.StringIO())
    return run_dir


def test_run_folder_contents(finished_run: Path) -> None:
    names = {str(p.relative_to(finished_run)) for p in finished_run.rglob("*") if p.is_file()}
    expected = {"config.yaml", "checkpoints/latest.zip", "checkpoints/best.zip", "metrics.csv"}
    assert expected <= names
    assert "eval.json" in names
    assert any(name.startswith("tensorboard/events.out.tfevents") for name in names)
    assert not any(".tmp" in name for name in names)


def test_eval_json(finished_run: Path) -> None:
    record = json.loads((finished_run / "eval.json").read_text())
    assert record["episodes"] >= MIN_FINAL_EPISODES
    assert record["env_steps"] == 256
    assert record["env_id"] == "rl_memory/Corridor-v0"
    assert 0.0 <= record["success_rate"] <= 1.0
    assert record["deterministic"] is True
    assert record["seed"] == 10_000  # training seed 0 plus the evaluation offset
    assert record["wall_time_s"]["train"] > 0
    assert record["wall_time_s"]["eval"] > 0
    assert len(record["retained_memories_per_layer"]) == 1  # one layer in the smoke preset
    assert record["retained_memories_per_layer"][0] > 0


def test_checkpoints_and_metrics(finished_run: Path) -> None:
    assert read_checkpoint(finished_run / "checkpoints/latest.zip").num_timesteps == 256
    best = read_checkpoint(finished_run / "checkpoints/best.zip")
    assert best.evaluation is not None
    with (finished_run / "metrics.csv").open() as file:
        rows = list(csv.DictReader(file))
    steps = [int(row["global_step"]) for row in rows]
    assert steps == sorted(steps)
    assert steps[-1] == 256
    assert any(row.get("eval/success_rate") for row in rows)


def test_progress_lines_with_sb3_ppo(
    sb3_ppo_agent: None, smoke_config: RunConfig, tmp_path: Path
) -> None:
    """Any SB3 algorithm runs through the same trainer; SB3 PPO keeps no memories."""
    stream = io.StringIO()
    train(smoke_config, tmp_path / "run", progress=stream)
    lines = stream.getvalue().splitlines()
    n_updates = 256 // (smoke_config.env.n_envs * smoke_config.ppo.n_steps)
    assert lines[0] == f"run folder: {tmp_path / 'run'}"
    assert len(lines) == 1 + n_updates + 1  # one per update, one for the final evaluation
    assert lines[1].startswith("steps 64 | steps/s ")  # 8 envs x 8 steps per rollout
    assert "eval success" in lines[-1]
    assert not any("memories" in line for line in lines)
    record = json.loads((tmp_path / "run/eval.json").read_text())
    assert record["retained_memories_per_layer"] is None


def test_resume_continues_step_count(finished_run: Path) -> None:
    stream = io.StringIO()
    record = resume(finished_run, total_steps=384, progress=stream)
    assert record["env_steps"] == 384
    lines = stream.getvalue().splitlines()
    assert lines[0] == f"resuming run {finished_run} at 256 env steps"
    assert lines[1].startswith("steps 320 | ")
    assert read_checkpoint(finished_run / "checkpoints/latest.zip").num_timesteps == 384
    with (finished_run / "metrics.csv").open() as file:
        steps = [int(row["global_step"]) for row in csv.DictReader(file)]
    assert steps[:4] == [64, 128, 192, 256]
    assert steps[-1] == 384


def test_resume_keeps_optimizer_and_update_count(finished_run: Path) -> None:
    algorithm = algorithm_for("expire-span").algorithm_class()
    before = algorithm.load(finished_run / "checkpoints/latest.zip")
    resume(finished_run, total_steps=320, progress=None)
    after = algorithm.load(finished_run / "checkpoints/latest.zip")
    assert after._n_updates > before._n_updates > 0
    step_before = before.policy.optimizer.state_dict()["state"][0]["step"]
    step_after = after.policy.optimizer.state_dict()["state"][0]["step"]
    assert step_after > step_before


def test_resume_rejects_finished_run(finished_run: Path) -> None:
    with pytest.raises(RunError, match="already has 256 env steps"):
        resume(finished_run)


def test_new_run_rejects_used_folder(finished_run: Path, smoke_config: RunConfig) -> None:
    with pytest.raises(RunDirError, match="--resume"):
        train(smoke_config, finished_run)


def test_interrupt_saves_latest(
    smoke_config: RunConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rl_memory.training import trainer

    def interrupt(self: object, num_timesteps: int) -> None:
        if num_timesteps >= 128:
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer._Session, "on_update_boundary", interrupt)
    with pytest.raises(KeyboardInterrupt):
        train(smoke_config, tmp_path / "run")
    assert read_checkpoint(tmp_path / "run/checkpoints/latest.zip").num_timesteps == 128


@pytest.mark.parametrize("kind", ["expire-span", "none", "lstm"])
def test_ppo_settings_reach_the_algorithm(kind: str, smoke_config: RunConfig) -> None:
    """lr_schedule and normalize_advantage reach every PPO variant, span group included."""
    from stable_baselines3.common.logger import Logger

    from rl_memory.training.envs import build_agent_env

    overrides = [f"memory.kind={kind}", "ppo.learning_rate=1e-3", "ppo.lr_schedule=linear"]
    overrides += ["ppo.span_learning_rate=1e-4", "ppo.normalize_advantage=false"]
    config = apply_overrides(smoke_config, overrides)
    env = build_agent_env(config, seed=0)
    model = algorithm_for(kind).build(config, env)
    model.set_logger(Logger(folder=None, output_formats=[]))
    model._current_progress_remaining = 0.25
    model._update_learning_rate(model.policy.optimizer)
    groups = model.policy.optimizer.param_groups
    rates = {group.get("name", "main"): group["lr"] for group in groups}
    assert rates["main"] == pytest.approx(2.5e-4)
    if kind == "expire-span":
        assert rates["span"] == pytest.approx(2.5e-5)
    assert model.normalize_advantage is False
    env.close()
