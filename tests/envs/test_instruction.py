"""Instruction rules: blanked mission, delay, target sequences, mission space."""

from __future__ import annotations

import numpy as np
import pytest
from envs_scripted import (
    instruction_oracle_choice,
    instruction_reactive_choice,
    plan_to_face,
    run_instruction,
    success_rate,
    walk,
)

from rl_memory.envs import make_env
from rl_memory.envs.instruction import InstructionEnv, InstructionMissionSpace, instruction_text


def test_mission_blanked_after_first_observation() -> None:
    env = InstructionEnv(delay=5)
    obs, info = env.reset(seed=0)
    assert obs["mission"].startswith("go to the ")
    assert info["cue_steps"] == (0,)
    obs, _, _, _, info = env.step(2)
    assert obs["mission"] == ""
    assert env.mission == ""
    assert info["cue_steps"] == (0,)
    assert env.observation_space.contains(obs)


def test_instruction_duration_counts_observations() -> None:
    env = InstructionEnv(delay=5, instruction_duration=3)
    env.reset(seed=0)
    missions = [env.step(0)[0]["mission"] for _ in range(3)]
    assert [bool(mission) for mission in missions] == [True, True, False]
    assert env.cue_steps == [0, 1, 2]


def test_blank_mission_tokens_are_padding() -> None:
    env = make_env("rl_memory/Instruction-v0")
    obs, _ = env.reset(seed=0)
    assert obs["mission"].any()
    obs, *_ = env.step(2)
    assert not obs["mission"].any()
    assert env.unwrapped.instruction.startswith("go to the ")


def test_mission_names_the_target() -> None:
    env = InstructionEnv(delay=2, n_targets=2, n_objects=5)
    obs, _ = env.reset(seed=9)
    expected = instruction_text([(target.color, target.type) for target in env.targets])
    assert obs["mission"] == expected
    assert ", then the " in expected


@pytest.mark.parametrize("n_targets", [1, 3, 8])
def test_mission_space_contains_every_mission(n_targets: int) -> None:
    space = InstructionMissionSpace(n_targets)
    space.seed(0)
    assert space.contains("")
    for _ in range(50):
        assert space.contains(space.sample())
    assert not space.contains("go to the red")
    assert not space.contains("go to the pink key" + ", then the red key" * (n_targets - 1))
    assert not InstructionMissionSpace(n_targets + 1).contains(space.sample())


@pytest.mark.parametrize("n_objects", [2, 4])
def test_reactive_policy_at_chance(n_objects: int) -> None:
    env = InstructionEnv(delay=1, n_objects=n_objects)
    outcomes = []
    for seed in range(1500):
        env.reset(seed=seed)
        outcomes.append(run_instruction(env, instruction_reactive_choice)["is_success"])
    # Three standard errors of a binomial rate at 1,500 episodes are at most 0.039.
    assert abs(success_rate(outcomes) - 1 / n_objects) < 0.04


@pytest.mark.parametrize("n_targets", [1, 3])
def test_oracle_policy_succeeds(n_targets: int) -> None:
    env = InstructionEnv(delay=3, n_objects=8, n_targets=n_targets)
    outcomes = []
    for seed in range(200):
        env.reset(seed=seed)
        info = run_instruction(env, instruction_oracle_choice)
        outcomes.append(info["is_success"])
        assert info["recall_step"] == 4, "the room is entered after delay + 1 moves"
    assert success_rate(outcomes) >= 0.99


def test_wrong_object_ends_without_reward() -> None:
    env = InstructionEnv(delay=0, n_objects=3)
    env.reset(seed=5)
    wrong = env.objects[-1]
    assert wrong not in env.targets
    walk(env, plan_to_face(env, wrong.cur_pos))
    _, reward, terminated, _, info = env.step(2)
    assert terminated
    assert reward == 0.0
    assert info["is_success"] is False


def test_reached_target_again_is_ignored() -> None:
    env = InstructionEnv(delay=0, n_objects=4, n_targets=2)
    env.reset(seed=2)
    first = env.targets[0]
    walk(env, plan_to_face(env, first.cur_pos))
    assert env.step(2)[2] is False
    _, reward, terminated, _, _ = env.step(2)
    assert not terminated
    assert reward == 0.0
    assert env.n_reached == 1


def test_objects_distinct_and_reachable() -> None:
    env = InstructionEnv(delay=0, n_objects=8)
    for seed in range(30):
        env.reset(seed=seed)
        kinds = {(obj.color, obj.type) for obj in env.objects}
        assert len(kinds) == 8
        for obj in env.objects:
            assert plan_to_face(env, obj.cur_pos)


def test_targets_drawn_uniformly() -> None:
    env = InstructionEnv(delay=0, n_objects=2)
    counts = np.zeros(3)
    for seed in range(600):
        env.reset(seed=seed)
        counts[("key", "ball", "box").index(env.targets[0].type)] += 1
    assert counts.min() > 150
