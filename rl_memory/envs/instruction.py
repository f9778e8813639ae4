"""Instruction: read "go to the red key" at the start, carry it down a corridor, obey it."""

from __future__ import annotations

import re
from typing import Any

from minigrid.core.mission import MissionSpace
from minigrid.core.world_object import Ball, Box, Key, WorldObj

from rl_memory.envs.base import (
    COLORS,
    MemoryTaskEnv,
    carve_row,
    check_int,
    check_max_steps,
    check_view_size,
    filled_grid,
)

OBJECT_TYPES: tuple[str, ...] = ("key", "ball", "box")
OBJECT_CLASSES = {"key": Key, "ball": Ball, "box": Box}
ROOM_SIZE = 5
# Object cells in room coordinates: even rows and columns, so the odd rows and columns
# stay free and every object can be reached. (0, 2) is the entry cell by the doorway.
OBJECT_CELLS: tuple[tuple[int, int], ...] = tuple(
    (x, y) for y in range(0, ROOM_SIZE, 2) for x in range(0, ROOM_SIZE, 2) if (x, y) != (0, 2)
)


def instruction_text(targets: list[tuple[str, str]]) -> str:
    """Return the mission for ``(color, type)`` targets: "go to the red key, then the blue box"."""
    parts = [f"the {color} {kind}" for color, kind in targets]
    return "go to " + ", then ".join(parts)


class InstructionMissionSpace(MissionSpace):
    """Missions "go to the C T, then the C T, ..." with ``n_targets`` targets, or "".

    The empty string is the blanked mission shown after the instruction is hidden.
    ``contains`` checks the grammar, so every mission the task shows is inside the space.
    """

    def __init__(self, n_targets: int, seed: int | None = None) -> None:
        self.n_targets = n_targets
        target = f"the ({'|'.join(COLORS)}) ({'|'.join(OBJECT_TYPES)})"
        self.pattern = re.compile("go to " + ", then ".join([target] * n_targets))
        # MissionSpace.__init__ checks a mission function; this space samples by itself.
        self.mission_func = instruction_text
        self.ordered_placeholders = None
        super(MissionSpace, self).__init__(dtype=str, seed=seed)

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        """Sample a mission with distinct random targets (``mask`` and ``probability`` unused)."""
        combos = [(color, kind) for color in COLORS for kind in OBJECT_TYPES]
        picks = self.np_random.choice(len(combos), size=self.n_targets, replace=False)
        return instruction_text([combos[int(index)] for index in picks])

    def contains(self, x: Any) -> bool:
        """Return whether ``x`` is "" or an instruction with ``n_targets`` targets."""
        return isinstance(x, str) and (x == "" or self.pattern.fullmatch(x) is not None)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InstructionMissionSpace) and other.n_targets == self.n_targets

    def __hash__(self) -> int:
        return hash(("InstructionMissionSpace", self.n_targets))

    def __repr__(self) -> str:
        return f"InstructionMissionSpace(n_targets={self.n_targets})"


def default_instruction_max_steps(delay: int, n_targets: int) -> int:
    """Return the default step budget: about three times the walk plus the room visits."""
    return 3 * (delay + 10 * n_targets) + 20


class InstructionEnv(MemoryTaskEnv):
    """Read an instruction at the start, walk a corridor of D cells, then obey it.

    ## Description

    The first observation's mission names the target, for example "go to the red key"
    (or with ``n_targets > 1`` a sequence: "go to the red key, then the blue ball").
    From observation ``instruction_duration`` on, the mission is the empty string. The
    agent starts at the west end of a one-cell-wide corridor, facing east. ``delay``
    cells further on it enters a 5 x 5 room with ``n_objects`` distinct objects: keys,
    balls and boxes of the six Minigrid colours, the targets among them. Walking into the
    next target counts it; walking into the last one ends the episode with a reward.
    Walking into an object that is not a target ends it with none. Walking into a target
    already counted changes nothing. A memoryless agent picks the right object with
    probability ``1 / n_objects``.

    ## Action Space

    ``Discrete(3)``: 0 turn left, 1 turn right, 2 move forward (Minigrid's indices).
    Minigrid's pickup, drop, toggle and done actions would change nothing here.

    ## Observation Space

    Minigrid's ``Dict``: ``image`` ``Box(0, 255, (V, V, 3), uint8)``, ``direction``
    ``Discrete(4)`` and ``mission``, an ``InstructionMissionSpace`` that contains the
    instructions and the empty string. ``rl_memory.envs.make_env`` turns the mission
    into token ids (all padding once blanked).

    ## Rewards

    ``1 - 0.9 * step_count / max_steps`` for walking into the last target in order, 0
    for every other step.

    ## Starting State

    The agent faces east at the west end of the corridor. The objects (distinct colour
    and type pairs), their cells in the room and the targets are drawn from
    ``self.np_random``.

    ## Episode End

    - Termination: the agent walks into the last target (success) or into an object
      that is not a target (failure).
    - Truncation: ``max_steps`` steps were taken without terminating.

    ## Info

    ``cue_steps``: observation indices that showed the instruction
    (``0 .. instruction_duration - 1``). ``recall_step``: observation index at which the
    agent first stood inside the room, -1 before. On the last step, ``recall_correct``
    and ``is_success``: whether all targets were reached in order.

    ## Arguments

    - ``delay``: corridor length between the start and the room doorway, >= 0.
    - ``n_objects``: objects in the room, 2 to 8 (default 4).
    - ``n_targets``: length of the target sequence, 1 to ``n_objects`` (default 1).
    - ``instruction_duration``: observations that show the mission, >= 1 (default 1).
    - ``max_steps``: step budget; default ``3 * (delay + 10 * n_targets) + 20``.
    - ``agent_view_size``: odd, >= 3 (default 7).
    - ``render_mode``: None, "rgb_array" or "human". Grids wider than 51 cells render
      as a 51-column window around the agent.

    ## Registered ids

    ``rl_memory/Instruction-v0`` (``delay=10``) and ``rl_memory/Instruction-D{n}-v0`` for
    n in 10, 100 and 1000.

    ## Version History

    - v0: initial version.
    """

    def __init__(
        self,
        delay: int = 10,
        n_objects: int = 4,
        n_targets: int = 1,
        instruction_duration: int = 1,
        max_steps: int | None = None,
        agent_view_size: int = 7,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.delay = check_int("delay", delay, 0)
        self.n_objects = check_int(
            "n_objects", n_objects, 2, len(OBJECT_CELLS), hint="The room has 8 object cells."
        )
        self.n_targets = check_int("n_targets", n_targets, 1, self.n_objects)
        self.instruction_duration = check_int("instruction_duration", instruction_duration, 1)
        max_steps = check_max_steps(
            max_steps, default_instruction_max_steps(self.delay, self.n_targets)
        )
        self.corridor_row = 1 + ROOM_SIZE // 2
        self.doorway_x = self.delay + 1
        self.objects: list[WorldObj] = []
        self.targets: list[WorldObj] = []
        self.n_reached = 0
        self.instruction = ""
        super().__init__(
            mission_space=InstructionMissionSpace(self.n_targets),
            width=self.delay + ROOM_SIZE + 3,
            height=ROOM_SIZE + 2,
            max_steps=max_steps,
            see_through_walls=False,
            agent_view_size=check_view_size(agent_view_size),
            render_mode=render_mode,
            **kwargs,
        )

    def _gen_grid(self, width: int, height: int) -> None:
        combos = [(color, kind) for color in COLORS for kind in OBJECT_TYPES]
        picks = self.np_random.choice(len(combos), size=self.n_objects, replace=False)
        cells = self.np_random.choice(len(OBJECT_CELLS), size=self.n_objects, replace=False)

        self.grid = filled_grid(width, height, self.wall)
        carve_row(self.grid, 1, self.doorway_x + 1, self.corridor_row)
        room_left = self.doorway_x + 1
        for y in range(1, ROOM_SIZE + 1):
            carve_row(self.grid, room_left, room_left + ROOM_SIZE, y)

        self.objects = []
        for pick, cell in zip(picks, cells, strict=True):
            color, kind = combos[int(pick)]
            obj = OBJECT_CLASSES[kind](color)
            x, y = OBJECT_CELLS[int(cell)]
            self.put_obj(obj, room_left + x, 1 + y)
            self.objects.append(obj)
        # The draws are uniform without replacement, so the first objects are a uniform
        # random choice of targets in a uniform random order.
        self.targets = self.objects[: self.n_targets]
        self.n_reached = 0
        self.instruction = instruction_text([(obj.color, obj.type) for obj in self.targets])

        self.agent_pos = (1, self.corridor_row)
        self.agent_dir = 0
        self.mission = self.instruction
        self._start_episode()

    def _on_move(self, action: int, front_cell: WorldObj | None) -> tuple[float, bool]:
        if self.recall_step < 0 and self.agent_pos[0] > self.doorway_x:
            self.recall_step = self.step_count
        if action != 2 or not any(front_cell is obj for obj in self.objects):
            return 0.0, False
        if front_cell is self.targets[self.n_reached]:
            self.n_reached += 1
            if self.n_reached < self.n_targets:
                return 0.0, False
            self.recall_correct = True
            return self._reward(), True
        if any(front_cell is target for target in self.targets[: self.n_reached]):
            return 0.0, False
        self.recall_correct = False
        return 0.0, True

    def _before_observation(self) -> None:
        self.mission = self.instruction if self.step_count < self.instruction_duration else ""

    def _after_observation(self, obs: dict[str, Any]) -> None:
        if self.mission:
            self.cue_steps.append(self.step_count)
