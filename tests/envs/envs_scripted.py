"""Scripted policies for the task tests: breadth-first navigation plus a choice rule.

A choice rule decides which object to go to. Reactive rules read only the current
observation; oracle rules read the hidden fact from the unwrapped env. Navigation plans
over the true grid in both cases, so the two differ only in what the choice may read.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
from minigrid.core.constants import DIR_TO_VEC, OBJECT_TO_IDX

from rl_memory.envs.base import COLORS, MemoryTaskEnv
from rl_memory.envs.corridor import CorridorEnv
from rl_memory.envs.instruction import InstructionEnv
from rl_memory.envs.portal import PortalEnv

Pose = tuple[int, int, int]


def plan_to_face(env: MemoryTaskEnv, target: tuple[int, int]) -> list[int]:
    """Return the shortest action list that leaves the agent facing ``target``.

    The agent walks on empty cells only, so it never steps on a portal, goal or object
    on the way.
    """
    start: Pose = (int(env.agent_pos[0]), int(env.agent_pos[1]), int(env.agent_dir))
    previous: dict[Pose, tuple[Pose, int] | None] = {start: None}
    queue = deque([start])
    while queue:
        pose = queue.popleft()
        x, y, direction = pose
        dx, dy = DIR_TO_VEC[direction]
        if (x + dx, y + dy) == target:
            return _actions_to(previous, pose)
        moves: list[tuple[Pose, int]] = [
            ((x, y, (direction - 1) % 4), 0),
            ((x, y, (direction + 1) % 4), 1),
        ]
        if env.grid.get(x + dx, y + dy) is None:
            moves.append(((x + dx, y + dy, direction), 2))
        for next_pose, action in moves:
            if next_pose not in previous:
                previous[next_pose] = (pose, action)
                queue.append(next_pose)
    raise AssertionError(f"no path from {start} to face {target}")


def _actions_to(previous: dict[Pose, tuple[Pose, int] | None], pose: Pose) -> list[int]:
    actions = []
    step = previous[pose]
    while step is not None:
        pose, action = step
        actions.append(action)
        step = previous[pose]
    return actions[::-1]


def walk(env: MemoryTaskEnv, actions: list[int]) -> tuple[Any, dict[str, Any]]:
    """Take ``actions`` and return the last observation and info."""
    obs, info = env.gen_obs(), {}
    for action in actions:
        obs, _, _, _, info = env.step(action)
    return obs, info


def visible_colors(obs: dict[str, Any], object_name: str) -> list[int]:
    """Return the colour indices of the objects of type ``object_name`` in ``obs``."""
    image = obs["image"]
    mask = image[:, :, 0] == OBJECT_TO_IDX[object_name]
    return sorted(int(color) for color in image[:, :, 1][mask])


# --- corridor ----------------------------------------------------------------------

CorridorChoice = Callable[[CorridorEnv, dict[str, Any]], str]


def corridor_reactive_choice(env: CorridorEnv, obs: dict[str, Any]) -> str:
    """Pick the arm ball of the lowest colour index visible in the current observation."""
    colors = visible_colors(obs, "ball")
    return COLORS[colors[0]] if colors else env.arms[0].color


def corridor_oracle_choice(env: CorridorEnv, obs: dict[str, Any]) -> str:
    """Pick the arm of the cue's colour, read from the unwrapped env."""
    return env.cue_color


def run_corridor(env: CorridorEnv, choose: CorridorChoice) -> dict[str, Any]:
    """Walk to the junction, choose an arm there, walk into its ball; return the last info."""
    # The only pose facing this cell is the junction cell looking east.
    obs, _ = walk(env, plan_to_face(env, (env.hallway_x + 1, env.corridor_row)))
    color = choose(env, obs)
    arm = next(arm for arm in env.arms if arm.color == color)
    _, info = walk(env, [*plan_to_face(env, arm.cur_pos), 2])
    return info


# --- portal ------------------------------------------------------------------------

PortalChoice = Callable[[PortalEnv, dict[str, Any]], str]


def hub_portal(env: PortalEnv, color: str) -> tuple[int, int]:
    """Return the hub cell of the portal of ``color``."""
    for position, (_, _, room) in env.exits.items():
        if room >= 0 and env.grid.get(*position).color == color:
            return position
    raise AssertionError(f"no hub portal of colour {color}")


def goal_portal_color(env: PortalEnv) -> str:
    """Return the colour of the hub portal that leads to the goal room."""
    for position, (_, _, room) in env.exits.items():
        if room == env.goal_room:
            return env.grid.get(*position).color
    raise AssertionError("no portal leads to the goal room")


def portal_reactive_choice(env: PortalEnv, obs: dict[str, Any]) -> str:
    """Pick the portal of the lowest colour index visible in the current observation."""
    colors = visible_colors(obs, "floor")
    return COLORS[colors[0]] if colors else COLORS[0]


def portal_oracle_choice(env: PortalEnv, obs: dict[str, Any]) -> str:
    """Pick the portal that leads to the goal room, read from the unwrapped env."""
    return goal_portal_color(env)


def run_portal_recall(env: PortalEnv, choose: PortalChoice) -> bool:
    """Reach the goal once, choose a portal from the start, return ``env.recall_correct``."""
    walk(env, [*plan_to_face(env, hub_portal(env, goal_portal_color(env))), 2])
    obs, _ = walk(env, [*plan_to_face(env, env.goal_pos), 2])
    assert env.recall_step == env.step_count, "the agent should be back at the start"
    walk(env, [*plan_to_face(env, hub_portal(env, choose(env, obs))), 2])
    assert not env.recall_pending
    return env.recall_correct


# --- instruction -------------------------------------------------------------------

InstructionChoice = Callable[[InstructionEnv, dict[str, Any]], Any]


def instruction_reactive_choice(env: InstructionEnv, obs: dict[str, Any]) -> Any:
    """Pick the visible object that comes first in the observation's (type, colour) order."""
    image = obs["image"]
    codes = [
        (int(image[x, y, 0]), int(image[x, y, 1]))
        for x in range(image.shape[0])
        for y in range(image.shape[1])
        if image[x, y, 0] in (OBJECT_TO_IDX["key"], OBJECT_TO_IDX["ball"], OBJECT_TO_IDX["box"])
    ]
    if not codes:
        return env.objects[0]
    first = min(codes)
    return next(obj for obj in env.objects if obj.encode()[:2] == first)


def instruction_oracle_choice(env: InstructionEnv, obs: dict[str, Any]) -> Any:
    """Pick the next target, read from the unwrapped env."""
    return env.targets[env.n_reached]


def run_instruction(env: InstructionEnv, choose: InstructionChoice) -> dict[str, Any]:
    """Walk into the room, then go to the chosen objects until the episode ends."""
    obs, _ = walk(env, plan_to_face(env, (env.doorway_x + 1, env.corridor_row)))
    obs, _, terminated, truncated, info = env.step(2)
    while not (terminated or truncated):
        target = choose(env, obs)
        for action in [*plan_to_face(env, target.cur_pos), 2]:
            obs, _, terminated, truncated, info = env.step(action)
    return info


def success_rate(outcomes: list[bool]) -> float:
    """Return the fraction of True outcomes."""
    return float(np.mean(outcomes))
