"""MissionVocabulary, NumericObsWrapper and make_env."""

from __future__ import annotations

import itertools

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces

from rl_memory.envs import MissionVocabulary, NumericObsWrapper, make_env, registered_ids
from rl_memory.envs.base import COLORS
from rl_memory.envs.instruction import OBJECT_TYPES, InstructionMissionSpace, instruction_text

VOCABULARY = MissionVocabulary()


def every_task_mission() -> list[str]:
    """Return the missions of every registered task, the blank one and MemoryS7's."""
    missions = {""}
    for env_id in [*registered_ids(), "MiniGrid-MemoryS7-v0"]:
        env = gymnasium.make(env_id)
        for seed in range(3):
            env.reset(seed=seed)
            missions.add(env.unwrapped.mission)
    for target in itertools.product(COLORS, OBJECT_TYPES):
        missions.add(instruction_text([target]))
    space = InstructionMissionSpace(n_targets=8)
    space.seed(0)
    missions.update(space.sample() for _ in range(20))
    return sorted(missions)


@pytest.mark.parametrize("mission", every_task_mission())
def test_encoded_mission_inside_space(mission: str) -> None:
    tokens = VOCABULARY.encode(mission)
    assert tokens.shape == (VOCABULARY.max_tokens,)
    assert VOCABULARY.space.contains(tokens)
    assert VOCABULARY.decode(tokens) == mission


def test_blank_mission_is_all_padding() -> None:
    assert not VOCABULARY.encode("").any()


def test_unknown_word_raises() -> None:
    with pytest.raises(ValueError, match="unknown word 'teleport'"):
        VOCABULARY.encode("go to the teleport")


def test_too_long_mission_raises() -> None:
    vocabulary = MissionVocabulary(max_tokens=3)
    with pytest.raises(ValueError, match="max_tokens"):
        vocabulary.encode("go to the red key")


def test_duplicate_words_raise() -> None:
    with pytest.raises(ValueError, match="duplicates"):
        MissionVocabulary(words=("go", "to", "go"))


def test_punctuation_is_a_token() -> None:
    assert MissionVocabulary.split("Go to the red key, then the box") == [
        "go", "to", "the", "red", "key", ",", "then", "the", "box",
    ]  # fmt: skip


def test_wrapper_space_layout() -> None:
    env = make_env("rl_memory/Corridor-v0")
    assert isinstance(env, NumericObsWrapper)
    space = env.observation_space
    assert isinstance(space, spaces.Dict)
    assert set(space.spaces) == {"image", "direction", "mission"}
    assert space["image"].shape == (7, 7, 3)
    assert space["image"].dtype == np.uint8
    assert space["direction"] == spaces.Discrete(4)
    assert space["mission"] == VOCABULARY.space
    assert isinstance(env.unwrapped.mission, str)


def test_wrapper_rejects_non_minigrid_space() -> None:
    with pytest.raises(ValueError, match="image, direction and mission"):
        NumericObsWrapper(gymnasium.make("CartPole-v1"))


@pytest.mark.parametrize(
    "env_id",
    ["rl_memory/Corridor-L30-v0", "rl_memory:rl_memory/Portal-R4-v0", "MiniGrid-MemoryS7-v0"],
)
def test_make_env_wraps_minigrid(env_id: str) -> None:
    env = make_env(env_id)
    obs, _ = env.reset(seed=0)
    assert isinstance(env, NumericObsWrapper)
    assert env.observation_space.contains(obs)


def test_make_env_passes_kwargs() -> None:
    env = make_env("rl_memory/Corridor-v0", length=3, n_colors=4, render_mode="rgb_array")
    assert env.unwrapped.length == 3
    assert env.unwrapped.n_colors == 4
    assert env.unwrapped.render_mode == "rgb_array"


def test_make_env_leaves_other_envs_unwrapped() -> None:
    env = make_env("CartPole-v1")
    assert not isinstance(env, NumericObsWrapper)


def test_make_env_unknown_id_suggests() -> None:
    with pytest.raises(ValueError, match="Did you mean 'rl_memory/Corridor-L100-v0'"):
        make_env("rl_memory/Corridor-L100-v9")
    with pytest.raises(ValueError, match="unknown environment id 'Nothing-v0'"):
        make_env("Nothing-v0")
