"""Portal rules: teleports, repeated trials, recall after the first success."""

from __future__ import annotations

import pytest
from envs_scripted import (
    goal_portal_color,
    hub_portal,
    plan_to_face,
    portal_oracle_choice,
    portal_reactive_choice,
    run_portal_recall,
    success_rate,
    walk,
)

from rl_memory.envs.portal import NORTH, PortalEnv


def test_portal_moves_agent_to_its_room() -> None:
    env = PortalEnv(n_rooms=3)
    env.reset(seed=4)
    portal = hub_portal(env, goal_portal_color(env))
    _, info = walk(env, [*plan_to_face(env, portal), 2])
    arrival, direction, room = env.exits[portal]
    assert tuple(env.agent_pos) == arrival
    assert env.agent_dir == direction == NORTH
    assert room == env.goal_room
    assert info["cue_steps"] == (env.step_count,)


def test_goal_visible_on_arrival() -> None:
    env = PortalEnv(n_rooms=2)
    for seed in range(40):
        env.reset(seed=seed)
        obs, _ = walk(env, [*plan_to_face(env, hub_portal(env, goal_portal_color(env))), 2])
        assert (obs["image"][:, :, 0] == 8).any(), f"goal hidden on arrival, seed {seed}"


def test_return_portal_leads_back_to_hub() -> None:
    env = PortalEnv(n_rooms=2)
    env.reset(seed=1)
    portal = hub_portal(env, goal_portal_color(env))
    walk(env, [*plan_to_face(env, portal), 2])
    room_portal = (int(env.agent_pos[0]), int(env.agent_pos[1]) + 1)
    walk(env, [*plan_to_face(env, room_portal), 2])
    assert tuple(env.agent_pos) == (portal[0], portal[1] + 1)


def test_goal_rewards_and_restarts_trial() -> None:
    env = PortalEnv(n_rooms=2)
    env.reset(seed=0)
    walk(env, [*plan_to_face(env, hub_portal(env, goal_portal_color(env))), 2])
    walk(env, plan_to_face(env, env.goal_pos))
    _, reward, terminated, truncated, info = env.step(2)
    assert reward == 1.0
    assert not terminated
    assert not truncated
    assert tuple(env.agent_pos) == env.start_pos
    assert info["recall_step"] == env.step_count


def test_episode_runs_to_max_steps() -> None:
    env = PortalEnv(n_rooms=2, max_steps=30)
    env.reset(seed=0)
    for step in range(1, 31):
        _, _, terminated, truncated, info = env.step(step % 3)
        assert not terminated
        assert truncated == (step == 30)
    assert set(info) >= {"recall_correct", "is_success"}


def test_recall_correct_in_final_info() -> None:
    env = PortalEnv(n_rooms=2, max_steps=200)
    env.reset(seed=3)
    assert run_portal_recall(env, portal_oracle_choice) is True
    truncated = False
    while not truncated:
        _, _, _, truncated, info = env.step(0)
    assert info["recall_correct"] is True
    assert info["is_success"] is True


@pytest.mark.parametrize("n_rooms", [2, 4])
def test_reactive_policy_at_chance(n_rooms: int) -> None:
    env = PortalEnv(n_rooms=n_rooms, max_steps=500)
    outcomes = []
    for seed in range(800):
        env.reset(seed=seed)
        outcomes.append(run_portal_recall(env, portal_reactive_choice))
    # Three standard errors of a binomial rate at 800 episodes are at most 0.053.
    assert abs(success_rate(outcomes) - 1 / n_rooms) < 0.055


def test_oracle_policy_succeeds() -> None:
    env = PortalEnv(n_rooms=6, max_steps=500)
    outcomes = []
    for seed in range(200):
        env.reset(seed=seed)
        outcomes.append(run_portal_recall(env, portal_oracle_choice))
    assert success_rate(outcomes) >= 0.99


def test_goal_room_and_colors_vary() -> None:
    env = PortalEnv(n_rooms=4)
    goal_rooms, goal_colors = set(), set()
    for seed in range(100):
        env.reset(seed=seed)
        goal_rooms.add(env.goal_room)
        goal_colors.add(goal_portal_color(env))
    assert goal_rooms == {0, 1, 2, 3}
    assert len(goal_colors) == 4
