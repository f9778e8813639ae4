"""GAE with terminated and truncated kept apart, against returns computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces

from rl_memory.agents.buffer import MemoryRolloutBuffer, compute_gae
from rl_memory.memory import MemoryState

GAMMA = 0.9
LAMBDA = 0.8

# Two envs, three steps, time first ([T, B]).
# Env 0: step 0 continues, step 1 is truncated (the value of its final observation is 4.0),
#        step 2 starts a new episode that terminates at once.
# Env 1: one episode that runs past the end of the rollout; the next observation is worth 0.5.
REWARDS = [[1.0, 0.0], [2.0, 0.0], [3.0, 1.0]]
VALUES = [[0.5, 0.2], [1.0, 0.3], [1.5, 0.4]]
TERMINATED = [[False, False], [False, False], [True, False]]
TRUNCATED = [[False, False], [True, False], [False, False]]
FINAL_VALUE_ENV0_STEP1 = 4.0
LAST_VALUES = [9.0, 0.5]  # env 0's 9.0 follows a terminated step and must be ignored

# By hand, with gamma * lambda = 0.72:
# env 0: delta_0 = 1 + 0.9 * 1.0 - 0.5 = 1.4       (bootstrap from V(s_1) = 1.0)
#        delta_1 = 2 + 0.9 * 4.0 - 1.0 = 4.6       (truncated: bootstrap from the final obs)
#        delta_2 = 3 + 0 - 1.5 = 1.5               (terminated: no bootstrap)
#        A_2 = 1.5
#        A_1 = 4.6                                  (the trace is cut after a truncation)
#        A_0 = 1.4 + 0.72 * 4.6 = 4.712
# env 1: delta_0 = 0 + 0.9 * 0.3 - 0.2 = 0.07
#        delta_1 = 0 + 0.9 * 0.4 - 0.3 = 0.06
#        delta_2 = 1 + 0.9 * 0.5 - 0.4 = 1.05      (bootstrap from the last value)
#        A_2 = 1.05, A_1 = 0.06 + 0.72 * 1.05 = 0.816, A_0 = 0.07 + 0.72 * 0.816 = 0.65752
EXPECTED_ADVANTAGES = [[4.712, 0.65752], [4.6, 0.816], [1.5, 1.05]]
EXPECTED_RETURNS = [[4.712 + 0.5, 0.65752 + 0.2], [4.6 + 1.0, 0.816 + 0.3], [1.5 + 1.5, 1.05 + 0.4]]


def _tensor(values: list) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def test_gae_matches_hand_computation() -> None:
    next_values = _tensor([[1.0, 0.3], [FINAL_VALUE_ENV0_STEP1, 0.4], [LAST_VALUES[0], 0.5]])
    advantages, returns = compute_gae(
        rewards=_tensor(REWARDS),
        values=_tensor(VALUES),
        next_values=next_values,
        terminated=torch.tensor(TERMINATED),
        truncated=torch.tensor(TRUNCATED),
        gamma=GAMMA,
        gae_lambda=LAMBDA,
    )
    assert torch.allclose(advantages, _tensor(EXPECTED_ADVANTAGES))
    assert torch.allclose(returns, _tensor(EXPECTED_RETURNS))


def test_gae_truncation_differs_from_termination() -> None:
    # Treating the truncated step as terminal would drop 0.9 * 4.0 from delta_1.
    next_values = _tensor([[1.0, 0.3], [FINAL_VALUE_ENV0_STEP1, 0.4], [LAST_VALUES[0], 0.5]])
    terminated_everywhere = torch.tensor(TERMINATED) | torch.tensor(TRUNCATED)
    advantages, _ = compute_gae(
        _tensor(REWARDS),
        _tensor(VALUES),
        next_values,
        terminated_everywhere,
        torch.zeros(3, 2, dtype=torch.bool),
        GAMMA,
        LAMBDA,
    )
    assert advantages[1, 0].item() == pytest.approx(4.6 - 0.9 * FINAL_VALUE_ENV0_STEP1)


def test_buffer_bootstraps_truncation_from_final_value() -> None:
    observation_space = spaces.Box(0.0, 1.0, (2,), np.float32)
    buffer = MemoryRolloutBuffer(
        3, 2, observation_space, spaces.Discrete(2), gamma=GAMMA, gae_lambda=LAMBDA
    )
    buffer.reset(MemoryState(episode_step=torch.zeros(2, dtype=torch.long)))
    for t in range(3):
        final_value = np.array([FINAL_VALUE_ENV0_STEP1 if TRUNCATED[t][0] else 0.0, 0.0])
        buffer.add(
            obs=np.zeros((2, 2), np.float32),
            action=np.zeros(2),
            reward=np.array(REWARDS[t], np.float32),
            episode_start=np.array([t == 0 or t == 2, t == 0]),
            value=torch.tensor(VALUES[t]),
            log_prob=torch.zeros(2),
            terminated=np.array(TERMINATED[t]),
            truncated=np.array(TRUNCATED[t]),
            final_value=final_value,
        )
    buffer.compute_returns_and_advantage(torch.tensor(LAST_VALUES))
    np.testing.assert_allclose(buffer.advantages, EXPECTED_ADVANTAGES, rtol=1e-5)
    np.testing.assert_allclose(buffer.returns, EXPECTED_RETURNS, rtol=1e-5)
