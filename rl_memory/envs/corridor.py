"""Corridor: a T-maze with a cue at the start and a choice at the end of a long corridor."""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
from minigrid.core.mission import MissionSpace
from minigrid.core.world_object import Ball, WorldObj

from rl_memory.envs.base import (
    COLORS,
    MemoryTaskEnv,
    UnsolvableTaskWarning,
    carve_row,
    check_int,
    check_max_steps,
    check_view_size,
    filled_grid,
)

ArmOrder = Literal["fixed", "random"]
ARM_ORDERS: tuple[ArmOrder, ...] = ("fixed", "random")

CORRIDOR_MISSION = "remember the color of the cue and go to the ball of that color"


def corridor_mission() -> str:
    """Return the constant mission string of the corridor task."""
    return CORRIDOR_MISSION


def default_corridor_max_steps(length: int, n_colors: int) -> int:
    """Return the default step budget: three times a path a little longer than the shortest."""
    return 3 * (length + 2 * n_colors) + 20


class CorridorEnv(MemoryTaskEnv):
    """Remember a cue colour along a one-cell-wide corridor, then pick the matching arm.

    ## Description

    The agent starts at the west end of a one-cell-wide corridor of ``length`` cells,
    facing east. A ball of the cue colour sits in the wall cell to the agent's left, so it
    is in view at the first observation. After ``cue_duration`` observations the cue is
    replaced by wall. At the east end a north-south hallway joins ``n_colors`` dead-end arms,
    each ending at a ball of a different colour. With ``arm_order="fixed"`` (the classic
    T-maze) the colours keep their order from north to south, so the cue gives the
    direction to turn. With ``arm_order="random"`` the order is drawn per episode, so the
    agent must compare the remembered cue with the balls in view at the junction. Walking
    into the ball whose colour matches the cue ends the episode with a reward, walking
    into another ends it with none. A memoryless agent can only guess, so it succeeds in about
    ``1 / n_colors`` of the episodes.

    Layout for ``length=4, n_colors=2`` (``C`` cue, ``>`` agent, ``a`` and ``b`` balls)::

        # # # # # # # #
        # C # # # . a #
        # > . . . . # #
        # # # # # . b #
        # # # # # # # #

    ## Action Space

    ``Discrete(3)``, with the indices of Minigrid's ``Actions``:

    | Num | Name    | Action       |
    |-----|---------|--------------|
    | 0   | left    | Turn left    |
    | 1   | right   | Turn right   |
    | 2   | forward | Move forward |

    Minigrid's pickup, drop, toggle and done actions are left out because they would
    change nothing in this task.

    ## Observation Space

    Minigrid's ``Dict``: ``image`` ``Box(0, 255, (V, V, 3), uint8)`` (the egocentric
    ``agent_view_size`` x ``agent_view_size`` view, each cell encoded as object, colour
    and state indices), ``direction`` ``Discrete(4)`` and ``mission``, a ``MissionSpace``
    holding the constant string "remember the color of the cue and go to the ball of
    that color". ``rl_memory.envs.make_env`` turns the mission into token ids.

    ## Rewards

    ``1 - 0.9 * step_count / max_steps`` for walking into the matching ball, 0 for any
    other step (including walking into a wrong ball).

    ## Starting State

    The agent faces east on the corridor row, at one of the first ``start_jitter + 1``
    cells (uniform, clipped to the corridor). The cue colour is uniform over the first
    ``n_colors`` colours of (red, green, blue, purple, yellow, grey). With
    ``arm_order="random"`` the order of the arms is a uniform permutation. All are drawn
    independently from ``self.np_random``.

    ## Episode End

    - Termination: the agent walks into one of the arm balls (right or wrong).
    - Truncation: ``max_steps`` steps were taken without terminating.

    ## Info

    ``cue_steps``: observation indices at which the cue was visible (0 is always one).
    ``recall_step``: observation index at which the agent first stood in the hallway at
    the end of the corridor, -1 before that. On the last step, ``recall_correct`` and
    ``is_success``: whether the agent walked into the matching ball.

    ## Arguments

    - ``length``: corridor length in cells, >= 1 (presets go up to 10,000).
    - ``n_colors``: number of cue colours and arms, 2 to 6 (default 2).
    - ``cue_duration``: number of observations that show the cue, >= 1 (default 1).
    - ``start_jitter``: the start cell is drawn from the first ``start_jitter + 1``
      corridor cells, >= 0 (default 2).
    - ``arm_order``: "fixed" (default; red is the northmost arm, then green, ...) or
      "random" (a new order each episode). "random" makes the choice an XOR of the cue
      and the order, which policy-gradient agents learn far more slowly.
    - ``max_steps``: step budget; default ``3 * (length + 2 * n_colors) + 20``. A budget
      shorter than the walk from the nearest start cell to the nearest arm warns with
      ``UnsolvableTaskWarning``.
    - ``agent_view_size``: odd, >= 3 (default 7).
    - ``render_mode``: None, "rgb_array" or "human". Grids wider than 51 cells render
      as a 51-column window around the agent.

    ## Registered ids

    ``rl_memory/Corridor-v0`` (``length=10``) and ``rl_memory/Corridor-L{n}-v0`` for n
    in 10, 30, 100, 300, 1000, 3000 and 10000.

    ## Version History

    - v0: initial version (``arm_order`` added before the first release).
    """

    def __init__(
        self,
        length: int = 10,
        n_colors: int = 2,
        cue_duration: int = 1,
        start_jitter: int = 2,
        arm_order: ArmOrder = "fixed",
        max_steps: int | None = None,
        agent_view_size: int = 7,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.length = check_int("length", length, 1)
        self.n_colors = check_int(
            "n_colors", n_colors, 2, len(COLORS), hint="Minigrid has 6 colours."
        )
        self.cue_duration = check_int("cue_duration", cue_duration, 1)
        self.start_jitter = check_int("start_jitter", start_jitter, 0)
        if arm_order not in ARM_ORDERS:
            raise ValueError(
                f"arm_order must be 'fixed' or 'random', got {arm_order!r}: 'fixed' keeps the "
                "arm colours in order from north to south, 'random' draws an order per episode."
            )
        self.arm_order: ArmOrder = arm_order
        default_max_steps = default_corridor_max_steps(self.length, self.n_colors)
        max_steps = check_max_steps(max_steps, default_max_steps)
        nearest_start = self.length - min(self.start_jitter, self.length - 1)
        # From the junction, the nearest arm takes one step when an arm faces the corridor
        # (an odd number of colours), else a turn, a step, a turn and a step.
        arm_steps = 1 if self.n_colors % 2 else 4
        if max_steps < nearest_start + arm_steps:
            warnings.warn(
                f"max_steps={max_steps} is too short for length={self.length} with "
                f"start_jitter={self.start_jitter}: every episode starts at least "
                f"{nearest_start + arm_steps} steps from an arm, so none can succeed. Raise "
                f"max_steps to at least {self.length + arm_steps}, or set it to None (null in "
                f"YAML and --set) for the default, {default_max_steps} at this length.",
                UnsolvableTaskWarning,
                stacklevel=2,
            )

        self.corridor_row = self.n_colors
        self.hallway_x = self.length + 1
        self.cue_color = COLORS[0]
        self.cue_pos = (1, self.corridor_row - 1)
        self.cue: Ball | None = None
        self.arms: list[Ball] = []
        super().__init__(
            mission_space=MissionSpace(mission_func=corridor_mission),
            width=self.length + 4,
            height=2 * self.n_colors + 1,
            max_steps=max_steps,
            see_through_walls=False,
            agent_view_size=check_view_size(agent_view_size),
            render_mode=render_mode,
            **kwargs,
        )

    def _gen_grid(self, width: int, height: int) -> None:
        colors = COLORS[: self.n_colors]
        cue_index = int(self.np_random.integers(self.n_colors))
        start_cells = min(self.start_jitter + 1, self.length)
        start_x = 1 + int(self.np_random.integers(start_cells))
        if self.arm_order == "random":
            arm_colors = self.np_random.permutation(self.n_colors)
        else:
            arm_colors = np.arange(self.n_colors)

        self.grid = filled_grid(width, height, self.wall)
        carve_row(self.grid, 1, self.hallway_x, self.corridor_row)
        arm_rows = [1 + 2 * k for k in range(self.n_colors)]
        for y in range(arm_rows[0], arm_rows[-1] + 1):
            self.grid.set(self.hallway_x, y, None)

        self.arms = []
        for y, color_index in zip(arm_rows, arm_colors, strict=True):
            arm = Ball(colors[int(color_index)])
            self.put_obj(arm, self.hallway_x + 1, y)
            self.arms.append(arm)

        self.cue_color = colors[cue_index]
        self.cue = Ball(self.cue_color)
        self.cue_pos = (start_x, self.corridor_row - 1)
        self.put_obj(self.cue, *self.cue_pos)

        self.agent_pos = (start_x, self.corridor_row)
        self.agent_dir = 0
        self.mission = CORRIDOR_MISSION
        self._start_episode()

    def _on_move(self, action: int, front_cell: WorldObj | None) -> tuple[float, bool]:
        if self.recall_step < 0 and self.agent_pos[0] == self.hallway_x:
            self.recall_step = self.step_count
        if action != 2 or not any(front_cell is arm for arm in self.arms):
            return 0.0, False
        assert front_cell is not None
        self.recall_correct = front_cell.color == self.cue_color
        return (self._reward() if self.recall_correct else 0.0), True

    def _before_observation(self) -> None:
        if self.cue is not None and self.step_count >= self.cue_duration:
            self.grid.set(*self.cue_pos, self.wall)
            self.cue = None

    def _after_observation(self, obs: dict[str, Any]) -> None:
        if self.cue is not None and self.in_observation(obs, self.cue_pos, self.cue):
            self.cue_steps.append(self.step_count)
