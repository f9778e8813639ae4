"""Evaluation of an agent over whole episodes, with the memory it keeps while acting."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecEnv

# Any evaluation whose success rate is reported or compared uses at least this many episodes.
MIN_FINAL_EPISODES = 100


@dataclass
class EvalResult:
    """Summary of an evaluation; ``to_dict`` gives the JSON written to the run folder."""

    episodes: int
    deterministic: bool
    success_rate: float | None
    """Fraction of episodes whose final info had ``is_success``; None if no info has that key."""
    mean_return: float
    std_return: float
    mean_episode_length: float
    retained_memories_per_layer: list[float] | None
    """Memories kept per layer after each step, averaged over steps; None without memory state."""
    eval_env_steps: int
    wall_time_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def memory_retained(state: Any) -> np.ndarray | None:
    """Return the memories kept per layer and env, shape [N, B], or None for other states.

    Works with any ``state`` that has a ``retained()`` method returning an [N, B] tensor or
    array (``rl_memory.memory.base.MemoryState``); SB3 PPO's ``None`` and RecurrentPPO's LSTM
    tuples give None.
    """
    retained = getattr(state, "retained", None)
    if retained is None:
        return None
    value = retained()
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def evaluate(
    model: BaseAlgorithm,
    env: VecEnv,
    n_episodes: int,
    deterministic: bool = True,
    seed: int | None = None,
) -> EvalResult:
    """Run ``n_episodes`` whole episodes and summarise them.

    The agent's recurrent or memory state and ``episode_start`` are passed to ``predict`` at
    every step. Env ``i`` of ``B`` runs ``(n_episodes + i) // B`` episodes, so short episodes
    do not crowd out long ones in the average.

    Args:
        model: Any SB3 algorithm, with or without recurrent state.
        env: The evaluation VecEnv (not the training env).
        n_episodes: Episodes to run, at least 1.
        deterministic: Take the most likely action instead of sampling.
        seed: Reseed the env before its reset, so repeated evaluations see the same episodes.

    Returns:
        The summary; retained memories are averaged over the steps of counted episodes.
    """
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    start = time.perf_counter()
    n_envs = env.num_envs
    targets = np.array([(n_episodes + i) // n_envs for i in range(n_envs)])
    counts = np.zeros(n_envs, dtype=int)
    running_return = np.zeros(n_envs)
    running_length = np.zeros(n_envs, dtype=int)
    returns: list[float] = []
    lengths: list[int] = []
    successes: list[bool] = []
    retained_sum: np.ndarray | None = None
    retained_steps = 0
    env_steps = 0

    if seed is not None:
        env.seed(seed)
    obs = env.reset()
    state: Any = None
    episode_start = np.ones(n_envs, dtype=bool)
    while (counts < targets).any():
        actions, state = model.predict(
            obs,  # type: ignore[arg-type]
            state=state,
            episode_start=episode_start,
            deterministic=deterministic,
        )
        active = counts < targets
        retained = memory_retained(state)
        if retained is not None:
            step_sum = retained[:, active].sum(axis=1)
            retained_sum = step_sum if retained_sum is None else retained_sum + step_sum
            retained_steps += int(active.sum())

        obs, rewards, dones, infos = env.step(actions)
        env_steps += n_envs
        running_return += rewards
        running_length += 1
        for i in np.flatnonzero(dones):
            if counts[i] < targets[i]:
                returns.append(float(running_return[i]))
                lengths.append(int(running_length[i]))
                if "is_success" in infos[i]:
                    successes.append(bool(infos[i]["is_success"]))
                counts[i] += 1
            running_return[i] = 0.0
            running_length[i] = 0
        episode_start = dones.astype(bool)

    per_layer = None
    if retained_sum is not None and retained_steps > 0:
        per_layer = [round(float(v), 4) for v in retained_sum / retained_steps]
    return EvalResult(
        episodes=len(returns),
        deterministic=deterministic,
        success_rate=float(np.mean(successes)) if successes else None,
        mean_return=float(np.mean(returns)),
        std_return=float(np.std(returns)),
        mean_episode_length=float(np.mean(lengths)),
        retained_memories_per_layer=per_layer,
        eval_env_steps=env_steps,
        wall_time_s=round(time.perf_counter() - start, 3),
    )
