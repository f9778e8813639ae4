"""Training runs: build the envs and the agent, learn, checkpoint, evaluate, resume.

``train`` starts a new run in an empty folder; ``resume`` continues a run from its
``checkpoints/latest.zip`` with the saved step count and optimizer state. Both end with an
evaluation of the final agent over at least ``MIN_FINAL_EPISODES`` episodes, written to
``eval.json``. See ``rl_memory.training.run_dir`` for the folder layout.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv

from rl_memory.config import RunConfig, for_evaluation, set_value, validate
from rl_memory.training.algorithms import algorithm_for
from rl_memory.training.callbacks import ScheduleCallback
from rl_memory.training.checkpoint import (
    CheckpointInfo,
    load_checkpoint,
    load_policy_weights,
    read_checkpoint,
    save_checkpoint,
)
from rl_memory.training.envs import EVAL_SEED_OFFSET, build_agent_env
from rl_memory.training.errors import EnvSetupError, RunError
from rl_memory.training.evaluation import MIN_FINAL_EPISODES, EvalResult, evaluate
from rl_memory.training.hooks import WandbRequest, resolve_wandb_mode, wandb_callback
from rl_memory.training.progress import build_logger
from rl_memory.training.run_dir import RunDirectory

logger = logging.getLogger(__name__)


def evaluation_record(
    result: EvalResult,
    config: RunConfig,
    checkpoint: Path | None,
    env_steps: int,
    train_wall_time_s: float | None,
    seed: int | None = None,
) -> dict[str, Any]:
    """Return the JSON record of an evaluation: the task, the agent and the results."""
    record: dict[str, Any] = {
        "env_id": config.env.id,
        "env_kwargs": dict(config.env.kwargs),
        "memory_kind": config.memory.kind,
        "max_span": config.memory.max_span if config.memory.kind == "expire-span" else None,
        "checkpoint": str(checkpoint) if checkpoint is not None else None,
        "env_steps": int(env_steps),
        "seed": seed,
    }
    results = result.to_dict()
    eval_wall_time = results.pop("wall_time_s")
    record.update(results)
    record["wall_time_s"] = {
        "train": round(train_wall_time_s, 3) if train_wall_time_s is not None else None,
        "eval": eval_wall_time,
    }
    return record


def _score(record: dict[str, Any] | None) -> tuple[float, float]:
    """Order evaluations by success rate, then mean return."""
    if record is None:
        return (float("-inf"), float("-inf"))
    success = record.get("success_rate")
    return (success if success is not None else float("-inf"), record["mean_return"])


class _Session:
    """One process's share of a run: the agent, its envs, the schedule and the wall clock."""

    def __init__(
        self,
        config: RunConfig,
        run: RunDirectory,
        model: BaseAlgorithm,
        train_env: VecEnv,
        eval_env: VecEnv,
        previous_wall_time_s: float,
        best: dict[str, Any] | None,
    ) -> None:
        self.config = config
        self.run = run
        self.model = model
        self.train_env = train_env
        self.eval_env = eval_env
        self.previous_wall_time_s = previous_wall_time_s
        self.started = time.perf_counter()
        self.best = best
        steps = model.num_timesteps
        self.next_eval = _next_multiple(steps, config.train.eval_interval)
        self.next_checkpoint = _next_multiple(steps, config.train.checkpoint_interval)

    def train_wall_time_s(self) -> float:
        return self.previous_wall_time_s + time.perf_counter() - self.started

    def on_update_boundary(self, num_timesteps: int) -> None:
        if self.next_eval is not None and num_timesteps >= self.next_eval:
            self.evaluate(self.config.train.eval_episodes)
            self.next_eval = _next_multiple(num_timesteps, self.config.train.eval_interval)
        if self.next_checkpoint is not None and num_timesteps >= self.next_checkpoint:
            self.save_latest()
            self.next_checkpoint = _next_multiple(
                num_timesteps, self.config.train.checkpoint_interval
            )

    def evaluate(self, n_episodes: int) -> dict[str, Any]:
        """Evaluate the current agent, log ``eval/*`` metrics and update best.zip."""
        seed = self.config.train.seed + EVAL_SEED_OFFSET
        result = evaluate(self.model, self.eval_env, n_episodes, deterministic=True, seed=seed)
        record = evaluation_record(
            result,
            for_evaluation(self.config),
            self.run.latest_checkpoint.relative_to(self.run.path),
            self.model.num_timesteps,
            self.train_wall_time_s(),
            seed,
        )
        self._log(result)
        if _score(record) > _score(self.best):
            self.best = record
            self._save(self.run.best_checkpoint, evaluation=record)
        return record

    def _log(self, result: EvalResult) -> None:
        log = self.model.logger
        if result.success_rate is not None:
            log.record("eval/success_rate", result.success_rate)
        log.record("eval/mean_return", result.mean_return)
        log.record("eval/mean_episode_length", result.mean_episode_length)
        if result.retained_memories_per_layer:
            per_layer = result.retained_memories_per_layer
            log.record("eval/retained_mean", sum(per_layer) / len(per_layer))
            for layer, value in enumerate(per_layer):
                log.record(f"eval/retained_mean/layer{layer}", value)

    def save_latest(self) -> None:
        self._save(self.run.latest_checkpoint)

    def _save(self, path: Path, evaluation: dict[str, Any] | None = None) -> None:
        save_checkpoint(
            self.model, path, self.config, self.train_env, self.train_wall_time_s(), evaluation
        )
        logger.info("saved %s at %d env steps", path, self.model.num_timesteps)


def _next_multiple(steps: int, interval: int) -> int | None:
    return None if interval <= 0 else (steps // interval + 1) * interval


def apply_torch_threads(config: RunConfig) -> None:
    """Set torch's CPU thread count from ``train.torch_threads`` (0 leaves it unchanged)."""
    if config.train.torch_threads > 0:
        torch.set_num_threads(config.train.torch_threads)


def _build_envs(config: RunConfig) -> tuple[VecEnv, VecEnv]:
    seed = config.train.seed
    train_env = build_agent_env(config, seed)
    return train_env, build_agent_env(for_evaluation(config), seed + EVAL_SEED_OFFSET)


def _build_model(config: RunConfig, env: VecEnv) -> BaseAlgorithm:
    try:
        return algorithm_for(config.memory.kind).build(config, env)
    except ValueError as error:
        if isinstance(error, RunError):
            raise
        raise EnvSetupError(
            f"cannot build the '{config.memory.kind}' agent for env '{config.env.id}': {error}"
        ) from None


def train(
    config: RunConfig,
    run_dir: Path,
    run_name: str | None = None,
    progress: TextIO | None = None,
    callbacks: Sequence[BaseCallback] = (),
) -> dict[str, Any]:
    """Train a new agent in a new run folder and evaluate it.

    Nothing is written until the envs and the agent have been built, so invalid input
    leaves no folder behind.

    Args:
        config: The resolved configuration.
        run_dir: The run folder; it must not exist or be empty.
        run_name: Name shown by the wandb hook (defaults to the folder name).
        progress: Stream for the run folder line and the progress lines, or None.
        callbacks: Extra SB3 callbacks for ``learn``; one that stops training early still
            gets the final checkpoint and evaluation.

    Returns:
        The final evaluation record, as written to eval.json.

    Raises:
        RunError: If the folder is in use, the env cannot be built, the agent cannot read
            the env's observations, or ``train.init_from`` does not fit the agent.
    """
    validate(config)
    run = RunDirectory.check_new(run_dir)
    apply_torch_threads(config)
    train_env, eval_env = _build_envs(config)
    try:
        model = _build_model(config, train_env)
        if config.train.init_from is not None:
            load_policy_weights(model, Path(config.train.init_from), train_env, config)
        run.create(config)
        _announce(progress, f"run folder: {run.path}")
        session = _Session(config, run, model, train_env, eval_env, 0.0, best=None)
        return _learn(session, run_name or run.path.name, progress, False, callbacks)
    finally:
        train_env.close()
        eval_env.close()


def resume(
    run_dir: Path,
    total_steps: int | None = None,
    device: str | None = None,
    wandb: str | None = None,
    progress: TextIO | None = None,
) -> dict[str, Any]:
    """Continue a run from ``checkpoints/latest.zip`` and evaluate the final agent.

    Args:
        run_dir: The folder of the run to continue.
        total_steps: New target of env steps (default: the run's ``train.total_steps``).
        device: Torch device for this session (default: the run's ``train.device``).
        wandb: wandb mode for this session (default: the run's ``log.wandb``).
        progress: Stream for the run folder line and the progress lines, or None.

    Raises:
        RunError: If the folder or its checkpoint is missing or invalid, or the run has
            already reached ``total_steps``.
    """
    run = RunDirectory.open_existing(run_dir)
    config = run.read_config()
    changes = {"train.total_steps": total_steps, "train.device": device, "log.wandb": wandb}
    for key, value in changes.items():
        if value is not None:
            set_value(config, key, value, source="resume")
    validate(config)
    info = read_checkpoint(run.latest_checkpoint)
    if info.num_timesteps >= config.train.total_steps:
        raise RunError(
            f"run {run_dir} already has {info.num_timesteps} env steps, and train.total_steps "
            f"is {config.train.total_steps}; pass --total-steps larger than {info.num_timesteps}"
        )
    apply_torch_threads(config)
    train_env, eval_env = _build_envs(config)
    try:
        model = load_checkpoint(
            run.latest_checkpoint, train_env, config.train.device, info, config.env.id
        )
        best = _stored_best(run)
        run.write_config(config)
        _announce(progress, f"resuming run {run.path} at {model.num_timesteps} env steps")
        session = _Session(
            config, run, model, train_env, eval_env, info.train_wall_time_s, best=best
        )
        return _learn(session, run.path.name, progress, resume=True)
    finally:
        train_env.close()
        eval_env.close()


def _announce(progress: TextIO | None, line: str) -> None:
    if progress is not None:
        progress.write(line + "\n")
        progress.flush()


def _stored_best(run: RunDirectory) -> dict[str, Any] | None:
    if not run.best_checkpoint.is_file():
        return None
    info: CheckpointInfo = read_checkpoint(run.best_checkpoint)
    return info.evaluation


def _learn(
    session: _Session,
    run_name: str,
    progress: TextIO | None,
    resume: bool,
    extra_callbacks: Sequence[BaseCallback] = (),
) -> dict[str, Any]:
    config, run, model = session.config, session.run, session.model
    model.set_logger(
        build_logger(
            run.path,
            run.metrics_path,
            run.tensorboard_dir if config.log.tensorboard else None,
            progress,
        )
    )
    callbacks: list[BaseCallback] = [ScheduleCallback(session), *extra_callbacks]
    mode = resolve_wandb_mode(config.log.wandb)
    extra = wandb_callback(WandbRequest(mode, config, run.path, run_name, resume))
    if extra is not None:
        callbacks.append(extra)

    remaining = config.train.total_steps - model.num_timesteps
    logger.info("training %s for %d env steps in %s", config.env.id, remaining, run.path)
    try:
        model.learn(remaining, callback=callbacks, reset_num_timesteps=not resume)
    except KeyboardInterrupt:
        session.save_latest()
        logger.warning(
            "interrupted: saved %s. Continue with rl-memory train --resume %s",
            run.latest_checkpoint,
            run.path,
        )
        raise
    train_wall_time = session.train_wall_time_s()
    session.save_latest()

    record = session.evaluate(max(config.train.eval_episodes, MIN_FINAL_EPISODES))
    record["wall_time_s"]["train"] = round(train_wall_time, 3)
    record["run_dir"] = str(run.path)
    run.write_eval(record)
    model.logger.record("time/total_timesteps", model.num_timesteps)
    model.logger.dump(model.num_timesteps)
    return record
