"""Corridor rules: cue timing, memory requirement, independence of the random draws."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from envs_scripted import (
    corridor_oracle_choice,
    corridor_reactive_choice,
    plan_to_face,
    run_corridor,
    success_rate,
    walk,
)

from rl_memory.envs.base import COLORS, UnsolvableTaskWarning
from rl_memory.envs.corridor import CorridorEnv


def test_cue_visible_only_at_first_observation() -> None:
    env = CorridorEnv(length=10)
    obs, info = env.reset(seed=0)
    assert info["cue_steps"] == (0,)
    assert env.in_observation(obs, env.cue_pos, env.grid.get(*env.cue_pos))
    obs, _, _, _, info = env.step(0)
    assert info["cue_steps"] == (0,)
    assert env.grid.get(*env.cue_pos) is env.wall
    balls = obs["image"][:, :, 0] == 6
    assert not balls.any()


def test_cue_duration_counts_observations() -> None:
    env = CorridorEnv(length=10, cue_duration=3)
    env.reset(seed=0)
    # Turning left faces the cue, turning left again keeps it at the side; the third
    # observation after reset (index 3) no longer has it.
    infos = [env.step(0)[4] for _ in range(4)]
    assert [info["cue_steps"] for info in infos] == [(0, 1), (0, 1, 2), (0, 1, 2), (0, 1, 2)]
    assert env.cue is None

    # Facing south (index 1) hides the cue; facing west (index 2) shows it at the side.
    env.reset(seed=0)
    infos = [env.step(1)[4] for _ in range(2)]
    assert [info["cue_steps"] for info in infos] == [(0,), (0, 2)]


def test_observations_after_cue_ignore_cue_color() -> None:
    # Two episodes with the same start and arm order but different cues must look the
    # same from observation cue_duration on.
    env = CorridorEnv(length=6, n_colors=2)
    episodes: dict[tuple[int, tuple[str, ...]], dict[str, list[bytes]]] = {}
    for seed in range(60):
        env.reset(seed=seed)
        key = (int(env.agent_pos[0]), tuple(arm.color for arm in env.arms))
        frames = [env.step(action)[0]["image"].tobytes() for action in (2, 2, 1, 0, 2, 2)]
        episodes.setdefault(key, {})[env.cue_color] = frames
    compared = [views for views in episodes.values() if len(views) == 2]
    assert compared, "no start and arm order was drawn with both cue colours"
    for views in compared:
        assert views["red"] == views["green"]


@pytest.mark.parametrize("n_colors", [2, 3])
def test_reactive_policy_at_chance(n_colors: int) -> None:
    env = CorridorEnv(length=1, n_colors=n_colors)
    outcomes = []
    for seed in range(2000):
        env.reset(seed=seed)
        outcomes.append(run_corridor(env, corridor_reactive_choice)["is_success"])
    assert abs(success_rate(outcomes) - 1 / n_colors) < 0.05


@pytest.mark.parametrize("n_colors", [2, 6])
def test_oracle_policy_succeeds(n_colors: int) -> None:
    env = CorridorEnv(length=5, n_colors=n_colors)
    outcomes = []
    for seed in range(300):
        env.reset(seed=seed)
        info = run_corridor(env, corridor_oracle_choice)
        outcomes.append(info["is_success"])
        assert info["recall_correct"] == info["is_success"]
    assert success_rate(outcomes) >= 0.99


def test_cue_start_and_order_independent() -> None:
    # Chi-square test of the joint distribution against the product of uniform marginals:
    # 2 cues x 3 starts x 2 orders = 12 cells, 11 degrees of freedom.
    env = CorridorEnv(length=10, n_colors=2, start_jitter=2, arm_order="random")
    counts: dict[tuple[str, int, str], int] = {}
    n_episodes = 3000
    for seed in range(n_episodes):
        env.reset(seed=seed)
        key = (env.cue_color, int(env.agent_pos[0]), env.arms[0].color)
        counts[key] = counts.get(key, 0) + 1
    cells = list(itertools.product(COLORS[:2], (1, 2, 3), COLORS[:2]))
    assert set(counts) == set(cells)
    expected = n_episodes / len(cells)
    chi_square = sum((counts[cell] - expected) ** 2 / expected for cell in cells)
    assert chi_square < 31.3  # 99.9th percentile of chi-square with 11 degrees of freedom


@pytest.mark.parametrize("n_colors", [2, 4])
def test_fixed_arm_order_north_to_south(n_colors: int) -> None:
    env = CorridorEnv(length=5, n_colors=n_colors)
    for seed in range(20):
        env.reset(seed=seed)
        arms = sorted(env.arms, key=lambda arm: arm.cur_pos[1])
        assert [arm.color for arm in arms] == list(COLORS[:n_colors])


def test_random_arm_order_draws_every_order() -> None:
    env = CorridorEnv(length=5, n_colors=3, arm_order="random")
    orders = set()
    for seed in range(200):
        env.reset(seed=seed)
        orders.add(tuple(arm.color for arm in sorted(env.arms, key=lambda a: a.cur_pos[1])))
    assert orders == set(itertools.permutations(COLORS[:3]))


def test_recall_step_set_at_junction() -> None:
    env = CorridorEnv(length=8)
    _, info = env.reset(seed=2)
    assert info["recall_step"] == -1
    _, info = walk(env, plan_to_face(env, (env.hallway_x + 1, env.corridor_row)))
    assert info["recall_step"] == env.step_count
    _, _, _, _, info = env.step(0)
    assert info["recall_step"] == env.step_count - 1
    assert "recall_correct" not in info


def test_reward_formula_and_wrong_arm() -> None:
    env = CorridorEnv(length=4)
    env.reset(seed=0)
    info = run_corridor(env, corridor_oracle_choice)
    assert info["recall_correct"] is True
    # Replay the same episode to read the reward of the last step.
    env.reset(seed=0)
    arm = next(arm for arm in env.arms if arm.color == env.cue_color)
    walk(env, plan_to_face(env, (env.hallway_x + 1, env.corridor_row)))
    walk(env, plan_to_face(env, arm.cur_pos))
    _, reward, terminated, truncated, _ = env.step(2)
    assert terminated and not truncated
    assert reward == pytest.approx(1 - 0.9 * env.step_count / env.max_steps)

    env.reset(seed=0)
    wrong = next(arm for arm in env.arms if arm.color != env.cue_color)
    walk(env, plan_to_face(env, (env.hallway_x + 1, env.corridor_row)))
    walk(env, plan_to_face(env, wrong.cur_pos))
    _, reward, terminated, _, info = env.step(2)
    assert terminated
    assert reward == 0.0
    assert info["recall_correct"] is False


def test_truncation_at_max_steps() -> None:
    env = CorridorEnv(length=3, max_steps=5)
    env.reset(seed=0)
    for _ in range(4):
        assert env.step(0)[3] is False
    _, _, terminated, truncated, info = env.step(0)
    assert truncated and not terminated
    assert info["recall_correct"] is False


def test_warns_when_no_episode_can_succeed() -> None:
    with pytest.warns(UnsolvableTaskWarning, match="at least 1004 steps .* at least 1004,"):
        CorridorEnv(length=1000, max_steps=1003, start_jitter=0)
    with pytest.warns(UnsolvableTaskWarning, match="start_jitter=2: every episode"):
        CorridorEnv(length=10, max_steps=11)
    with pytest.warns(UnsolvableTaskWarning, match="at least 11 steps"):
        CorridorEnv(length=10, n_colors=3, max_steps=10, start_jitter=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnsolvableTaskWarning)
        CorridorEnv(length=1000, max_steps=1004, start_jitter=0)
        CorridorEnv(length=10, max_steps=12)  # a start 8 cells from the junction exists
        CorridorEnv(length=10, n_colors=3, max_steps=11, start_jitter=0)  # an arm ahead
        CorridorEnv(length=1000, max_steps=10, start_jitter=995)


def test_shortest_path_fits_the_minimum_budget() -> None:
    """The budget that the warning names is enough: the shortest path succeeds within it."""
    env = CorridorEnv(length=6, max_steps=10, start_jitter=0)
    env.reset(seed=0)
    target = next(arm for arm in env.arms if arm.color == env.cue_color)
    walk(env, plan_to_face(env, target.cur_pos))
    _, reward, terminated, truncated, _ = env.step(2)
    assert terminated and not truncated
    assert reward > 0
    assert env.step_count == 10


def test_max_steps_scales_with_length() -> None:
    assert CorridorEnv(length=10).max_steps < CorridorEnv(length=1000).max_steps
    long_env = CorridorEnv(length=1000)
    assert long_env.max_steps >= 2 * (long_env.length + 2 * long_env.n_colors)


def test_longest_corridor_resets_and_renders() -> None:
    env = CorridorEnv(length=10000, render_mode="rgb_array")
    obs, info = env.reset(seed=0)
    assert info["cue_steps"] == (0,)
    assert env.observation_space.contains(obs)
    walls = {id(obj) for obj in env.grid.grid if obj is not None and obj.type == "wall"}
    assert len(walls) == 1, "walls should share one instance"
    frame = env.render()
    assert frame.shape == (env.height * env.tile_size, 51 * env.tile_size, 3)
    assert np.any(frame)
