"""Rollout storage for memory policies, and GAE with terminated and truncated kept apart.

Dimension letters: T rollout steps, B envs, b envs in a minibatch.

The buffer stores one rollout of T steps for each of B envs, plus each env's memory state
from just before step 0. Minibatches are whole env chunks ([b, T]), so the learner can
recompute every step through the memory, starting from the state carried in. Memories of an
episode that began in an earlier rollout stay available, while an episode start inside the
chunk clears them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.preprocessing import get_action_dim, get_obs_shape
from torch import Tensor

from rl_memory.memory.base import MemoryState

TensorObs = Tensor | dict[str, Tensor]


def compute_gae(
    rewards: Tensor,
    values: Tensor,
    next_values: Tensor,
    terminated: Tensor,
    truncated: Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[Tensor, Tensor]:
    """Compute generalized advantage estimates and lambda-returns, time first.

    With ``done = terminated | truncated``::

        delta_t     = r_t + gamma * (1 - terminated_t) * V'_t - V_t
        advantage_t = delta_t + gamma * lambda * (1 - done_t) * advantage_{t+1}

    A terminated step does not bootstrap. A truncated step bootstraps from ``V'_t``, the
    value of the final observation of its episode, and both cut the lambda-trace, because
    step t + 1 belongs to the next episode.

    Args:
        rewards: [T, *B] reward received after the action at step t.
        values: [T, *B] value V_t of the observation at step t, when it was collected.
        next_values: [T, *B] value V'_t of the observation that followed step t in the same
            episode: ``values[t + 1]`` inside an episode, the value of the next observation
            after the last step, and the value of the final observation on truncation.
            Ignored where ``terminated``.
        terminated: [T, *B] bool, the episode ended in a terminal state at step t.
        truncated: [T, *B] bool, the episode was cut at step t (time limit).
        gamma: discount factor.
        gae_lambda: GAE lambda; 1 gives Monte-Carlo advantages, 0 one-step TD errors.

    Returns:
        advantages [T, *B] and returns [T, *B] (``advantages + values``).
    """
    not_terminated = (~terminated.bool()).to(values.dtype)
    not_done = (~(terminated.bool() | truncated.bool())).to(values.dtype)
    deltas = rewards + gamma * not_terminated * next_values - values
    advantages = torch.zeros_like(values)
    running = torch.zeros_like(values[0])
    for t in reversed(range(values.shape[0])):
        running = deltas[t] + gamma * gae_lambda * not_done[t] * running
        advantages[t] = running
    return advantages, advantages + values


def clone_state(state: MemoryState) -> MemoryState:
    """Return a copy of ``state`` that later acting steps cannot write into (cache dropped)."""
    return MemoryState(
        hidden=[h.clone() for h in state.hidden],
        step=[s.clone() for s in state.step],
        valid=[v.clone() for v in state.valid],
        episode_step=state.episode_step.clone(),
    )


class MemoryRolloutSamples(NamedTuple):
    """A minibatch of b env chunks, each the whole rollout of one env."""

    observations: TensorObs  # [b, T, ...]
    actions: Tensor  # [b, T, action_dim]
    old_values: Tensor  # [b, T]
    old_log_prob: Tensor  # [b, T]
    advantages: Tensor  # [b, T]
    returns: Tensor  # [b, T]
    episode_starts: Tensor  # [b, T] bool
    memory_state: MemoryState  # the b envs' states from just before step 0
    env_indices: Tensor  # [b] long


class MemoryRolloutBuffer:
    """Rollout buffer over [n_steps, n_envs] for policies with an episode memory.

    Args:
        n_steps: T, steps per env per rollout.
        n_envs: B, number of envs.
        observation_space: a space of the VecEnv; Dict spaces store one array per key.
        action_space: the VecEnv's action space.
        device: where ``get`` puts the minibatch tensors.
        gamma: discount factor.
        gae_lambda: GAE lambda.
    """

    def __init__(
        self,
        n_steps: int,
        n_envs: int,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        device: torch.device | str = "cpu",
        gamma: float = 0.99,
        gae_lambda: float = 0.95,
    ):
        self.n_steps = n_steps
        self.n_envs = n_envs
        self.observation_space = observation_space
        self.action_space = action_space
        self.action_dim = get_action_dim(action_space)
        self.device = torch.device(device)
        self.gamma = gamma
        self.gae_lambda = gae_lambda
        self.initial_state: MemoryState | None = None
        self.reset()

    def reset(self, initial_state: MemoryState | None = None) -> None:
        """Empty the buffer and store a copy of each env's memory state before step 0."""
        self.initial_state = clone_state(initial_state) if initial_state is not None else None
        shape = (self.n_steps, self.n_envs)
        obs_shape = get_obs_shape(self.observation_space)
        if isinstance(obs_shape, dict):
            assert isinstance(self.observation_space, spaces.Dict)
            self.observations: np.ndarray | dict[str, np.ndarray] = {
                key: np.zeros((*shape, *key_shape), dtype=self.observation_space[key].dtype)
                for key, key_shape in obs_shape.items()
            }
        else:
            self.observations = np.zeros((*shape, *obs_shape), dtype=self.observation_space.dtype)
        self.actions = np.zeros((*shape, self.action_dim), dtype=np.float32)
        self.rewards = np.zeros(shape, dtype=np.float32)
        self.episode_starts = np.zeros(shape, dtype=bool)
        self.values = np.zeros(shape, dtype=np.float32)
        self.log_probs = np.zeros(shape, dtype=np.float32)
        self.terminated = np.zeros(shape, dtype=bool)
        self.truncated = np.zeros(shape, dtype=bool)
        self.final_values = np.zeros(shape, dtype=np.float32)
        self.advantages = np.zeros(shape, dtype=np.float32)
        self.returns = np.zeros(shape, dtype=np.float32)
        self.pos = 0
        self.full = False

    def add(
        self,
        obs: np.ndarray | dict[str, np.ndarray],
        action: np.ndarray,
        reward: np.ndarray,
        episode_start: np.ndarray,
        value: Tensor,
        log_prob: Tensor,
        terminated: np.ndarray,
        truncated: np.ndarray,
        final_value: np.ndarray,
    ) -> None:
        """Store one step of every env.

        Args:
            obs: [B, ...] the observations the actions were taken on.
            action: [B, ...] actions taken.
            reward: [B] rewards received.
            episode_start: [B] bool, ``obs`` is the first observation of an episode.
            value: [B] values of ``obs`` when acting.
            log_prob: [B] log-probabilities of the actions when acting.
            terminated: [B] bool, the step ended the episode in a terminal state.
            truncated: [B] bool, the step cut the episode (time limit).
            final_value: [B] value of the final observation where ``truncated``, else 0.
        """
        if self.full:
            raise RuntimeError("The rollout buffer is full: call reset() before adding steps.")
        if isinstance(self.observations, dict):
            assert isinstance(obs, dict)
            for key, array in self.observations.items():
                array[self.pos] = np.asarray(obs[key]).reshape(array.shape[1:])
        else:
            self.observations[self.pos] = np.asarray(obs).reshape(self.observations.shape[1:])
        self.actions[self.pos] = np.asarray(action).reshape(self.n_envs, self.action_dim)
        self.rewards[self.pos] = reward
        self.episode_starts[self.pos] = episode_start
        self.values[self.pos] = value.detach().cpu().numpy().reshape(-1)
        self.log_probs[self.pos] = log_prob.detach().cpu().numpy().reshape(-1)
        self.terminated[self.pos] = terminated
        self.truncated[self.pos] = truncated
        self.final_values[self.pos] = final_value
        self.pos += 1
        self.full = self.pos == self.n_steps

    def compute_returns_and_advantage(self, last_values: Tensor) -> None:
        """Fill ``advantages`` and ``returns`` by GAE.

        Args:
            last_values: [B] values of the observations that follow the last step, read
                through each env's memory (0 effect where the last step terminated).
        """
        assert self.full, "compute GAE on a full rollout"
        last = last_values.detach().cpu().numpy().reshape(1, self.n_envs)
        next_values = np.concatenate([self.values[1:], last], axis=0)
        next_values = np.where(self.truncated, self.final_values, next_values)
        advantages, returns = compute_gae(
            rewards=torch.as_tensor(self.rewards),
            values=torch.as_tensor(self.values),
            next_values=torch.as_tensor(next_values),
            terminated=torch.as_tensor(self.terminated),
            truncated=torch.as_tensor(self.truncated),
            gamma=self.gamma,
            gae_lambda=self.gae_lambda,
        )
        self.advantages = advantages.numpy()
        self.returns = returns.numpy()

    def _env_major(self, array: np.ndarray, env_indices: np.ndarray, dtype: Any = None) -> Tensor:
        chunk = np.swapaxes(array[:, env_indices], 0, 1)  # [T, b, ...] -> [b, T, ...]
        return torch.as_tensor(np.ascontiguousarray(chunk), dtype=dtype, device=self.device)

    def get(
        self,
        batch_envs: int,
        select: Callable[[MemoryState, Tensor], MemoryState],
    ) -> Iterator[MemoryRolloutSamples]:
        """Yield minibatches of ``batch_envs`` env chunks in random order.

        When ``batch_envs`` does not divide the number of envs, the last minibatch contains the
        remaining envs.

        Args:
            batch_envs: env chunks per minibatch.
            select: picks the envs' memory states, e.g. ``EpisodeMemory.select``.
        """
        assert self.full and self.initial_state is not None, "get() needs a full rollout"
        order = np.random.permutation(self.n_envs)
        for start in range(0, self.n_envs, batch_envs):
            env_indices = order[start : start + batch_envs]
            yield self._samples(env_indices, select)

    def _samples(
        self,
        env_indices: np.ndarray,
        select: Callable[[MemoryState, Tensor], MemoryState],
    ) -> MemoryRolloutSamples:
        assert self.initial_state is not None
        if isinstance(self.observations, dict):
            observations: TensorObs = {
                key: self._env_major(array, env_indices) for key, array in self.observations.items()
            }
        else:
            observations = self._env_major(self.observations, env_indices)
        state_indices = torch.as_tensor(env_indices, device=self.initial_state.episode_step.device)
        return MemoryRolloutSamples(
            observations=observations,
            actions=self._env_major(self.actions, env_indices),
            old_values=self._env_major(self.values, env_indices),
            old_log_prob=self._env_major(self.log_probs, env_indices),
            advantages=self._env_major(self.advantages, env_indices),
            returns=self._env_major(self.returns, env_indices),
            episode_starts=self._env_major(self.episode_starts, env_indices),
            memory_state=select(self.initial_state, state_indices),
            env_indices=torch.as_tensor(env_indices),
        )
