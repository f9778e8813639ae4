"""Evaluation over whole episodes, with memory state and episode starts passed along."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from rl_memory.config import EnvConfig, RunConfig
from rl_memory.training import algorithm_for, build_agent_env, build_vec_env, evaluate
from rl_memory.training.evaluation import memory_retained


class CountingState:
    """A memory state that keeps 1 memory in layer 0 and 3 in layer 1, for every env."""

    def __init__(self, n_envs: int) -> None:
        self.n_envs = n_envs

    def retained(self) -> torch.Tensor:
        return torch.tensor([[1] * self.n_envs, [3] * self.n_envs])


class ScriptedAgent:
    """Always pushes left and records the ``episode_start`` flags it is given."""

    def __init__(self) -> None:
        self.episode_starts: list[np.ndarray] = []
        self.states: list[Any] = []

    def predict(
        self, obs: Any, state: Any, episode_start: np.ndarray, deterministic: bool
    ) -> tuple[np.ndarray, CountingState]:
        self.episode_starts.append(episode_start.copy())
        self.states.append(state)
        n_envs = len(episode_start)
        return np.zeros(n_envs, dtype=np.int64), CountingState(n_envs)


@pytest.fixture
def cartpole() -> Any:
    env = build_vec_env(EnvConfig(id="CartPole-v1", n_envs=2), seed=0)
    yield env
    env.close()


def test_counts_exact_episodes(cartpole: Any) -> None:
    agent = ScriptedAgent()
    result = evaluate(agent, cartpole, n_episodes=7)  # type: ignore[arg-type]
    assert result.episodes == 7
    assert result.mean_episode_length > 0
    assert result.eval_env_steps >= result.mean_episode_length * 7


def test_passes_state_and_episode_start(cartpole: Any) -> None:
    agent = ScriptedAgent()
    evaluate(agent, cartpole, n_episodes=4)  # type: ignore[arg-type]
    assert agent.episode_starts[0].tolist() == [True, True]
    assert agent.states[0] is None
    assert all(isinstance(state, CountingState) for state in agent.states[1:])
    later_starts = np.array(agent.episode_starts[1:])
    assert later_starts.any()  # episodes ended and restarted
    assert not later_starts.all()


def test_retained_memories_per_layer(cartpole: Any) -> None:
    result = evaluate(ScriptedAgent(), cartpole, n_episodes=3)  # type: ignore[arg-type]
    assert result.retained_memories_per_layer == [1.0, 3.0]


def test_success_rate_none_without_is_success(cartpole: Any) -> None:
    result = evaluate(ScriptedAgent(), cartpole, n_episodes=2)  # type: ignore[arg-type]
    assert result.success_rate is None


def test_same_seed_same_result(sb3_ppo_agent: None, smoke_config: RunConfig) -> None:
    env = build_agent_env(smoke_config, seed=0)
    model = algorithm_for(smoke_config.memory.kind).build(smoke_config, env)
    first = evaluate(model, env, n_episodes=6, seed=5)
    second = evaluate(model, env, n_episodes=6, seed=5)
    env.close()
    assert first.success_rate is not None
    assert first.retained_memories_per_layer is None
    assert (first.mean_return, first.eval_env_steps) == (second.mean_return, second.eval_env_steps)


def test_memory_retained_of_other_states() -> None:
    assert memory_retained(None) is None
    assert memory_retained((np.zeros(2), np.zeros(2))) is None
    assert memory_retained(CountingState(2)).tolist() == [[1, 1], [3, 3]]  # type: ignore[union-attr]


def test_rejects_zero_episodes(cartpole: Any) -> None:
    with pytest.raises(ValueError, match="n_episodes"):
        evaluate(ScriptedAgent(), cartpole, n_episodes=0)  # type: ignore[arg-type]
