"""Invalid constructor arguments raise ValueError naming the argument and its range."""

from __future__ import annotations

from typing import Any

import gymnasium
import pytest

from rl_memory.envs.corridor import CorridorEnv
from rl_memory.envs.instruction import InstructionEnv
from rl_memory.envs.portal import PortalEnv

INVALID = [
    (CorridorEnv, {"length": 0}, "length"),
    (CorridorEnv, {"length": -3}, "length"),
    (CorridorEnv, {"length": 2.5}, "length"),
    (CorridorEnv, {"n_colors": 0}, "n_colors"),
    (CorridorEnv, {"n_colors": 1}, "n_colors"),
    (CorridorEnv, {"n_colors": 7}, "n_colors"),
    (CorridorEnv, {"cue_duration": 0}, "cue_duration"),
    (CorridorEnv, {"start_jitter": -1}, "start_jitter"),
    (CorridorEnv, {"arm_order": "shuffled"}, "arm_order"),
    (CorridorEnv, {"max_steps": 0}, "max_steps"),
    (CorridorEnv, {"agent_view_size": 6}, "agent_view_size"),
    (CorridorEnv, {"agent_view_size": 1}, "agent_view_size"),
    (PortalEnv, {"n_rooms": 1}, "n_rooms"),
    (PortalEnv, {"n_rooms": 7}, "n_rooms"),
    (PortalEnv, {"agent_view_size": 4}, "agent_view_size"),
    (InstructionEnv, {"delay": -1}, "delay"),
    (InstructionEnv, {"n_objects": 1}, "n_objects"),
    (InstructionEnv, {"n_objects": 9}, "n_objects"),
    (InstructionEnv, {"n_objects": 3, "n_targets": 4}, "n_targets"),
    (InstructionEnv, {"n_targets": 0}, "n_targets"),
    (InstructionEnv, {"instruction_duration": 0}, "instruction_duration"),
    (InstructionEnv, {"agent_view_size": 8}, "agent_view_size"),
]


@pytest.mark.parametrize(("env_class", "kwargs", "name"), INVALID)
def test_invalid_argument_raises(env_class: type, kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name) as error:
        env_class(**kwargs)
    message = str(error.value)
    assert repr(kwargs[name]) in message or str(kwargs[name]) in message
    assert "must be" in message


def test_invalid_argument_through_make() -> None:
    with pytest.raises(ValueError, match=r"length must be an integer >= 1, got 0"):
        gymnasium.make("rl_memory/Corridor-v0", length=0)


@pytest.mark.parametrize(
    ("env_class", "kwargs"),
    [
        (CorridorEnv, {"length": 1, "n_colors": 6, "agent_view_size": 3}),
        (CorridorEnv, {"length": 2, "start_jitter": 0, "cue_duration": 5}),
        (PortalEnv, {"n_rooms": 6, "agent_view_size": 9}),
        (InstructionEnv, {"delay": 0, "n_objects": 8, "n_targets": 8}),
    ],
)
def test_boundary_arguments_accepted(env_class: type, kwargs: dict[str, Any]) -> None:
    env = env_class(**kwargs)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
