"""Portal: find which portal leads to the goal, then return there trial after trial."""

from __future__ import annotations

from typing import Any

from minigrid.core.mission import MissionSpace
from minigrid.core.world_object import Floor, Goal, WorldObj

from rl_memory.envs.base import (
    COLORS,
    MemoryTaskEnv,
    check_int,
    check_max_steps,
    check_view_size,
    filled_grid,
)

PORTAL_MISSION = "find the goal through the portals and reach it as often as you can"

# Rooms are ROOM_SIZE x ROOM_SIZE cells inside their walls; the hub is as high.
ROOM_SIZE = 5
NORTH, SOUTH = 3, 1


def portal_mission() -> str:
    """Return the constant mission string of the portal task."""
    return PORTAL_MISSION


def default_portal_max_steps(n_rooms: int) -> int:
    """Return the default episode length: 50 steps per room (several trials)."""
    return 50 * n_rooms


class PortalEnv(MemoryTaskEnv):
    """Remember which portal led to the goal and take it again in every later trial.

    ## Description

    The agent starts in a hub room with ``n_rooms`` portals along its north wall, one
    per colour, in random order. Each portal leads to its own room, and one room, drawn at
    random, contains a green goal square. Stepping onto a portal moves the agent to the
    arrival cell of the portal's room, facing north; each room's return portal (same
    colour, right behind the arrival cell) leads back below the hub portal. The whole
    room is in view from the arrival cell, so the agent sees at once whether the goal is
    there. Stepping onto the goal gives a reward and puts the agent back at the start;
    the episode goes on until ``max_steps``. The first trial is exploration; an agent that
    remembers the goal's portal goes straight to it in later trials, while a memoryless
    one picks the right portal with probability ``1 / n_rooms``.

    ## Action Space

    ``Discrete(3)``: 0 turn left, 1 turn right, 2 move forward (Minigrid's indices).
    Minigrid's pickup, drop, toggle and done actions would change nothing here.

    ## Observation Space

    Minigrid's ``Dict``: ``image`` ``Box(0, 255, (V, V, 3), uint8)``, ``direction``
    ``Discrete(4)`` and ``mission``, a ``MissionSpace`` with the constant string "find
    the goal through the portals and reach it as often as you can". Portals are
    coloured floor tiles.

    ## Rewards

    1.0 each time the agent steps onto the goal, 0 otherwise.

    ## Starting State

    The agent stands in the middle of the hub's south row, facing north. The colour order
    of the portals, the room behind each portal, the goal room and the goal's cell in it
    are drawn from ``self.np_random`` at every reset.

    ## Episode End

    - Termination: never.
    - Truncation: after ``max_steps`` steps.

    ## Info

    ``cue_steps``: observation indices at which the agent arrived in the goal room
    through a portal (the goal is in view at each). ``recall_step``: observation index
    of the first return to the start after reaching the goal, from where the agent has to
    choose a portal again; -1 before. On the last step, ``recall_correct`` and
    ``is_success``: whether the first portal taken after that return led to the goal
    room (False if the agent never got there).

    ## Arguments

    - ``n_rooms``: number of portals and rooms, 2 to 6 (one portal colour per room).
    - ``max_steps``: episode length; default ``50 * n_rooms``.
    - ``agent_view_size``: odd, >= 3 (default 7).
    - ``render_mode``: None, "rgb_array" or "human".

    ## Registered ids

    ``rl_memory/Portal-v0`` (``n_rooms=2``) and ``rl_memory/Portal-R{n}-v0`` for n in
    2, 4 and 6.

    ## Version History

    - v0: initial version.
    """

    def __init__(
        self,
        n_rooms: int = 2,
        max_steps: int | None = None,
        agent_view_size: int = 7,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.n_rooms = check_int(
            "n_rooms", n_rooms, 2, len(COLORS), hint="Each room needs its own portal colour."
        )
        max_steps = check_max_steps(max_steps, default_portal_max_steps(self.n_rooms))
        self.hub_width = 2 * self.n_rooms + 1
        self.start_pos = (self.n_rooms + 1, ROOM_SIZE)
        # Portal cell -> (arrival cell, arrival direction, room index or -1 for the hub).
        self.exits: dict[tuple[int, int], tuple[tuple[int, int], int, int]] = {}
        self.goal_room = 0
        self.goal_pos = (0, 0)
        self.n_goals = 0
        self.recall_pending = False
        self.arrived_at_goal_room = False
        super().__init__(
            mission_space=MissionSpace(mission_func=portal_mission),
            width=self.hub_width + 2 + (ROOM_SIZE + 1) * self.n_rooms,
            height=ROOM_SIZE + 2,
            max_steps=max_steps,
            see_through_walls=False,
            agent_view_size=check_view_size(agent_view_size),
            render_mode=render_mode,
            **kwargs,
        )

    def room_left(self, room: int) -> int:
        """Return the x coordinate of the west wall of room ``room``."""
        return self.hub_width + 1 + (ROOM_SIZE + 1) * room

    def _gen_grid(self, width: int, height: int) -> None:
        color_order = self.np_random.permutation(self.n_rooms)
        destinations = self.np_random.permutation(self.n_rooms)
        self.goal_room = int(self.np_random.integers(self.n_rooms))
        goal_cell = int(self.np_random.integers(ROOM_SIZE * (ROOM_SIZE - 1) - 1))

        self.grid = filled_grid(width, height, self.wall)
        self._carve_room(1, self.hub_width)
        for room in range(self.n_rooms):
            self._carve_room(self.room_left(room) + 1, ROOM_SIZE)

        self.exits = {}
        for slot in range(self.n_rooms):
            color = COLORS[int(color_order[slot])]
            room = int(destinations[slot])
            hub_portal = (2 + 2 * slot, 1)
            middle = self.room_left(room) + 1 + ROOM_SIZE // 2
            room_portal = (middle, ROOM_SIZE)
            self.put_obj(Floor(color), *hub_portal)
            self.put_obj(Floor(color), *room_portal)
            self.exits[hub_portal] = ((middle, ROOM_SIZE - 1), NORTH, room)
            self.exits[room_portal] = ((hub_portal[0], 2), SOUTH, -1)

        # The goal may stand on any cell in view of the arrival cell: every row but the
        # last (the one with the return portal), except the arrival cell itself.
        free_cells = [(x, y) for y in range(ROOM_SIZE - 1) for x in range(ROOM_SIZE)]
        free_cells.remove((ROOM_SIZE // 2, ROOM_SIZE - 2))
        goal_x, goal_y = free_cells[goal_cell]
        self.goal_pos = (self.room_left(self.goal_room) + 1 + goal_x, 1 + goal_y)
        self.put_obj(Goal(), *self.goal_pos)

        self.agent_pos = self.start_pos
        self.agent_dir = NORTH
        self.mission = PORTAL_MISSION
        self.n_goals = 0
        self.recall_pending = False
        self.arrived_at_goal_room = False
        self._start_episode()

    def _carve_room(self, left: int, width: int) -> None:
        for y in range(1, ROOM_SIZE + 1):
            for x in range(left, left + width):
                self.grid.set(x, y, None)

    def _on_move(self, action: int, front_cell: WorldObj | None) -> tuple[float, bool]:
        self.arrived_at_goal_room = False
        position = (int(self.agent_pos[0]), int(self.agent_pos[1]))
        if position == self.goal_pos:
            self.n_goals += 1
            if self.n_goals == 1:
                self.recall_step = self.step_count
                self.recall_pending = True
            self.agent_pos = self.start_pos
            self.agent_dir = NORTH
            return 1.0, False

        exit_ = self.exits.get(position)
        if exit_ is not None:
            self.agent_pos, self.agent_dir, room = exit_
            if room == self.goal_room:
                self.arrived_at_goal_room = True
            if self.recall_pending and room >= 0:
                self.recall_correct = room == self.goal_room
                self.recall_pending = False
        return 0.0, False

    def _after_observation(self, obs: dict[str, Any]) -> None:
        if self.arrived_at_goal_room:
            self.cue_steps.append(self.step_count)
