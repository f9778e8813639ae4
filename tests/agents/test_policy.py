"""MemoryPolicy: acting equals the learner's recomputation, episode starts clear memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.utils import obs_as_tensor

from rl_memory.agents import ExpireSpanPPO, MemoryPolicy
from rl_memory.envs import make_env
from rl_memory.memory import MemoryState

MEMORY_KINDS = ["expire-span", "transformer-xl", "all", "none"]
N_STEPS = 8


class RolloutRecorder(BaseCallback):
    """Copy every rollout, and the learner's recomputation of it, before training on it."""

    def __init__(self) -> None:
        super().__init__()
        self.rollouts: list[dict[str, Any]] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        buffer = self.model.rollout_buffer
        policy = self.model.policy
        batch = next(buffer.get(buffer.n_envs, policy.memory.select))
        order = torch.argsort(batch.env_indices)  # back to env order
        with torch.no_grad():
            evaluation = policy.forward_sequence(
                batch.observations, batch.actions, batch.episode_starts, batch.memory_state
            )
        state = self.model._last_memory_state
        self.rollouts.append(
            {
                "obs": {k: v.copy() for k, v in buffer.observations.items()},  # [T, B, ...]
                "actions": buffer.actions.copy(),
                "episode_starts": buffer.episode_starts.copy(),
                "values": buffer.values.copy(),
                "log_probs": buffer.log_probs.copy(),
                "recomputed_values": evaluation.values[order].T.numpy(),
                "recomputed_log_probs": evaluation.log_prob[order].T.numpy(),
                "episode_step_after": state.episode_step.clone(),
                "retained_after": state.retained().clone(),
            }
        )


def _record(
    corridor: Callable, policy_kwargs: Callable, kind: str, n_rollouts: int
) -> tuple[ExpireSpanPPO, RolloutRecorder]:
    # learning_rate=0 keeps the parameters fixed, so every rollout is comparable with the end.
    # A corridor of length 20 needs 20+ steps per episode, so episodes span rollouts.
    model = ExpireSpanPPO(
        env=corridor(n_envs=2, length=20),
        learning_rate=0.0,
        n_steps=N_STEPS,
        batch_envs=1,
        n_epochs=1,
        seed=0,
        device="cpu",
        policy_kwargs=policy_kwargs(kind),
    )
    recorder = RolloutRecorder()
    model.learn(n_rollouts * N_STEPS * 2, callback=recorder)
    return model, recorder


def _env_episode(recorder: RolloutRecorder, env: int) -> dict[str, Any]:
    """Concatenate env ``env``'s steps over all rollouts, time first."""
    rollouts = recorder.rollouts
    return {
        "obs": {
            k: np.concatenate([r["obs"][k][:, env] for r in rollouts]) for k in rollouts[0]["obs"]
        },
        "actions": np.concatenate([r["actions"][:, env] for r in rollouts]),
        "episode_starts": np.concatenate([r["episode_starts"][:, env] for r in rollouts]),
        "values": np.concatenate([r["values"][:, env] for r in rollouts]),
        "log_probs": np.concatenate([r["log_probs"][:, env] for r in rollouts]),
        "recomputed_values": np.concatenate([r["recomputed_values"][:, env] for r in rollouts]),
        "recomputed_log_probs": np.concatenate(
            [r["recomputed_log_probs"][:, env] for r in rollouts]
        ),
    }


@pytest.mark.parametrize("kind", MEMORY_KINDS)
def test_learner_recomputes_acting_outputs(
    corridor: Callable, policy_kwargs: Callable, kind: str
) -> None:
    _, recorder = _record(corridor, policy_kwargs, kind, n_rollouts=3)
    for rollout in recorder.rollouts:
        np.testing.assert_allclose(rollout["recomputed_log_probs"], rollout["log_probs"], atol=1e-5)
        np.testing.assert_allclose(rollout["recomputed_values"], rollout["values"], atol=1e-5)


@pytest.mark.parametrize("kind", MEMORY_KINDS)
def test_step_by_step_replay_matches_learner(
    corridor: Callable, policy_kwargs: Callable, kind: str
) -> None:
    model, recorder = _record(corridor, policy_kwargs, kind, n_rollouts=3)
    policy = model.policy
    space = model.observation_space
    episode = _env_episode(recorder, env=0)
    # The first episode starts at step 0 and is still running in the second rollout.
    assert episode["episode_starts"][0]
    assert not episode["episode_starts"][1 : N_STEPS + 1].any()

    state = policy.initial_state(1)
    predict_state: MemoryState | None = None
    for t in range(len(episode["actions"])):
        # The buffer stores a Discrete entry with shape (1,); predict() expects ().
        obs = {k: v[t : t + 1].reshape(1, *space[k].shape) for k, v in episode["obs"].items()}
        start = episode["episode_starts"][t : t + 1]
        with torch.no_grad():
            value, log_prob, _, state = policy.evaluate_actions(
                obs_as_tensor(obs, policy.device),
                torch.as_tensor(episode["actions"][t : t + 1]),
                state,
                torch.as_tensor(start),
            )
        _, predict_state = policy.predict(obs, predict_state, start, deterministic=True)

        assert value.item() == pytest.approx(episode["recomputed_values"][t], abs=1e-5)
        assert log_prob.item() == pytest.approx(episode["recomputed_log_probs"][t], abs=1e-5)
        assert log_prob.item() == pytest.approx(episode["log_probs"][t], abs=1e-5)
        assert torch.equal(predict_state.retained(), state.retained())
        assert torch.equal(predict_state.episode_step, state.episode_step)


def test_memory_kept_across_rollouts_within_episode(
    corridor: Callable, policy_kwargs: Callable
) -> None:
    # With kind "all" every frame of the episode stays in memory, so after each rollout
    # each env keeps exactly the frames since its last episode start.
    _, recorder = _record(corridor, policy_kwargs, "all", n_rollouts=3)
    frames_since_start = np.zeros(2, dtype=int)
    longest = 0
    for rollout in recorder.rollouts:
        for starts in rollout["episode_starts"]:
            frames_since_start = np.where(starts, 1, frames_since_start + 1)
        longest = max(longest, int(frames_since_start.max()))
        expected = torch.as_tensor(frames_since_start)
        assert torch.equal(rollout["episode_step_after"], expected)
        for layer_retained in rollout["retained_after"]:
            assert torch.equal(layer_retained, expected)
    assert longest > N_STEPS, "no episode spanned a rollout boundary"


def _memories_by_step(state: MemoryState, env: int) -> dict[int, torch.Tensor]:
    layer = 0
    valid = state.valid[layer][env]
    steps = state.step[layer][env][valid].tolist()
    return dict(zip(steps, state.hidden[layer][env][valid], strict=True))


def test_episode_start_clears_only_that_env(
    dict_space: spaces.Dict, policy_kwargs: Callable
) -> None:
    policy = MemoryPolicy(dict_space, spaces.Discrete(3), lambda _: 1e-3, **policy_kwargs("all"))
    n_envs = 3
    state = policy.initial_state(n_envs)
    dict_space.seed(0)
    with torch.no_grad():
        for t in range(5):
            obs = obs_as_tensor(
                {
                    k: np.stack([dict_space.sample()[k] for _ in range(n_envs)])
                    for k in dict_space.spaces
                },
                policy.device,
            )
            starts = torch.full((n_envs,), t == 0)
            state = policy(obs, state, starts).state
        before = [_memories_by_step(state, env) for env in range(n_envs)]

        state = policy(obs, state, torch.tensor([False, True, False])).state

    assert state.retained()[0].tolist() == [6, 1, 6]
    assert state.episode_step.tolist() == [6, 1, 6]
    for env in (0, 2):
        after = _memories_by_step(state, env)
        for step, hidden in before[env].items():
            assert torch.equal(after[step], hidden)
    assert list(_memories_by_step(state, 1)) == [0]


def test_predict_rejects_foreign_state(dict_space: spaces.Dict, policy_kwargs: Callable) -> None:
    policy = MemoryPolicy(dict_space, spaces.Discrete(3), lambda _: 1e-3, **policy_kwargs())
    obs = dict_space.sample()
    with pytest.raises(ValueError, match="MemoryState"):
        policy.predict(obs, state=(np.zeros(3),))  # type: ignore[arg-type]
    _, state = policy.predict(obs)
    batch = {k: np.stack([v, v]) for k, v in obs.items()}
    with pytest.raises(ValueError, match="state has 1 envs"):
        policy.predict(batch, state=state)


def test_predict_single_observation_shape(dict_space: spaces.Dict, policy_kwargs: Callable) -> None:
    policy = MemoryPolicy(dict_space, spaces.Discrete(3), lambda _: 1e-3, **policy_kwargs())
    action, state = policy.predict(dict_space.sample())
    assert action.shape == ()
    assert state.n_envs == 1
    action, state = policy.predict(dict_space.sample(), state, np.array([False]))
    assert state.episode_step.tolist() == [2]


def test_policy_accepts_config_dicts(dict_space: spaces.Dict) -> None:
    policy = MemoryPolicy(
        dict_space,
        spaces.Discrete(3),
        lambda _: 1e-3,
        memory={"kind": "transformer-xl", "d_model": 16, "window": 3},
        encoder={"features_dim": 8},
    )
    assert policy.memory_config.window == 3
    assert policy.encoder_config.features_dim == 8
    assert isinstance(policy.project, torch.nn.Linear)


def test_span_parameters_get_own_group(dict_space: spaces.Dict, policy_kwargs: Callable) -> None:
    policy = MemoryPolicy(dict_space, spaces.Discrete(3), lambda _: 1e-3, **policy_kwargs())
    groups = {group["name"]: group["params"] for group in policy.optimizer.param_groups}
    span_ids = {id(p) for p in policy.memory.span_parameters()}
    assert span_ids
    assert {id(p) for p in groups["span"]} == span_ids
    assert not span_ids & {id(p) for p in groups["main"]}
    assert len(groups["main"]) + len(groups["span"]) == len(list(policy.parameters()))


class TruncationRecorder(BaseCallback):
    """Keep the terminal observations and the buffer of the first rollout."""

    def __init__(self) -> None:
        super().__init__()
        self.terminal_obs: dict[int, dict[str, np.ndarray]] = {}
        self.buffer: dict[str, Any] = {}

    def _on_step(self) -> bool:
        step = self.model.rollout_buffer.pos  # on_step runs before the step is stored
        for info in self.locals["infos"]:
            if info.get("TimeLimit.truncated"):
                self.terminal_obs[step] = info["terminal_observation"]
        return True

    def _on_rollout_end(self) -> None:
        if not self.buffer:
            buffer = self.model.rollout_buffer
            self.buffer = {
                "obs": {k: v[:, 0].copy() for k, v in buffer.observations.items()},
                "actions": buffer.actions[:, 0].copy(),
                "episode_starts": buffer.episode_starts[:, 0].copy(),
                "truncated": buffer.truncated[:, 0].copy(),
                "terminated": buffer.terminated[:, 0].copy(),
                "final_values": buffer.final_values[:, 0].copy(),
            }


@pytest.mark.filterwarnings("ignore::rl_memory.envs.UnsolvableTaskWarning")
def test_truncation_bootstraps_through_episode_memory(
    corridor: Callable, policy_kwargs: Callable
) -> None:
    # A 20-cell corridor cannot be finished in 10 steps, so the first episode is truncated
    # at step 9 and its final observation is valued through that episode's memory.
    env = make_vec_env(
        lambda: make_env("rl_memory/Corridor-v0", length=20, max_steps=10), n_envs=1, seed=0
    )
    model = ExpireSpanPPO(
        env=env,
        learning_rate=0.0,
        n_steps=16,
        batch_envs=1,
        seed=0,
        device="cpu",
        policy_kwargs=policy_kwargs("all"),
    )
    recorder = TruncationRecorder()
    model.learn(16, callback=recorder)
    policy, space, buffer = model.policy, model.observation_space, recorder.buffer
    assert buffer["truncated"][9]
    assert not buffer["terminated"][9]
    assert 9 in recorder.terminal_obs

    state = policy.initial_state(1)
    with torch.no_grad():
        for t in range(10):
            obs = {k: v[t : t + 1].reshape(1, *space[k].shape) for k, v in buffer["obs"].items()}
            _, _, _, state = policy.evaluate_actions(
                obs_as_tensor(obs, policy.device),
                torch.as_tensor(buffer["actions"][t : t + 1]),
                state,
                torch.as_tensor(buffer["episode_starts"][t : t + 1]),
            )
        final = {k: np.asarray(v)[None] for k, v in recorder.terminal_obs[9].items()}
        final_tensor = obs_as_tensor(final, policy.device)
        expected = policy.predict_values(final_tensor, state, torch.tensor([False]))
        memoryless = policy.predict_values(
            final_tensor, policy.initial_state(1), torch.tensor([True])
        )

    assert buffer["final_values"][9] == pytest.approx(expected.item(), abs=1e-5)
    assert buffer["final_values"][9] != pytest.approx(memoryless.item(), abs=1e-5)
