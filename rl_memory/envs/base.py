"""Shared machinery of the rl-memory tasks: a Minigrid base class and argument checks.

Every task moves the agent with the three navigation actions of Minigrid, reports the
memory-relevant observation indices in ``info`` and renders a bounded window for long
grids. Subclasses build the grid in ``_gen_grid`` and react to each move in ``_on_move``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from minigrid.core.actions import Actions
from minigrid.core.grid import Grid
from minigrid.core.world_object import Wall, WorldObj
from minigrid.minigrid_env import MiniGridEnv

# Colours in Minigrid's index order (COLOR_TO_IDX), so the first K colours of a task with
# K colours are always the same ones.
COLORS: tuple[str, ...] = ("red", "green", "blue", "purple", "yellow", "grey")

# Every task uses left, right and forward only: pickup, drop, toggle and done would be
# no-ops, and an action that never changes anything only slows exploration down.
NAVIGATION_ACTIONS: tuple[Actions, ...] = (Actions.left, Actions.right, Actions.forward)

# Width in cells of the window that ``render`` draws around the agent on wider grids.
RENDER_WINDOW_CELLS = 51


def check_int(name: str, value: Any, low: int, high: int | None = None, hint: str = "") -> int:
    """Validate an integer argument and return it as a Python ``int``.

    Args:
        name: Argument name, quoted in the error.
        value: Value to check.
        low: Smallest allowed value.
        high: Largest allowed value, or None for no upper bound.
        hint: Extra sentence appended to the error (for example why the range exists).

    Raises:
        ValueError: If ``value`` is not an integer in ``[low, high]``.
    """
    allowed = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
    is_integer = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not is_integer or value < low or (high is not None and value > high):
        message = f"{name} must be {allowed}, got {value!r}."
        raise ValueError(f"{message} {hint}".strip())
    return int(value)


def check_view_size(agent_view_size: Any) -> int:
    """Validate ``agent_view_size`` the way Minigrid needs it: odd and at least 3.

    Raises:
        ValueError: If the size is not an odd integer >= 3.
    """
    size = check_int("agent_view_size", agent_view_size, 3)
    if size % 2 == 0:
        raise ValueError(
            f"agent_view_size must be an odd integer >= 3, got {size}: Minigrid centres the "
            "agent in its view. Use an odd size such as 7."
        )
    return size


class UnsolvableTaskWarning(UserWarning):
    """The env's arguments leave no episode a way to succeed, e.g. too few steps for the walk.

    Short rollouts of such an env are still useful for tests, so this is a warning. The
    ``rl-memory`` commands turn it into an error.
    """


def check_max_steps(max_steps: Any, default: int) -> int:
    """Return ``default`` when ``max_steps`` is None, else validate it as an integer >= 1."""
    if max_steps is None:
        return default
    return check_int("max_steps", max_steps, 1)


def filled_grid(width: int, height: int, wall: WorldObj) -> Grid:
    """Create a ``width`` x ``height`` grid with the same wall object in every cell.

    Sharing one wall object keeps generation of long grids fast: a corridor of length
    10,000 would otherwise create about 20,000 ``Wall`` instances at every reset. Walls
    never move, so sharing one is safe.
    """
    grid = Grid(width, height)
    grid.grid = [wall] * (width * height)
    return grid


def carve_row(grid: Grid, x_start: int, x_stop: int, y: int) -> None:
    """Empty the cells ``x_start <= x < x_stop`` of row ``y`` in one slice assignment."""
    offset = y * grid.width
    grid.grid[offset + x_start : offset + x_stop] = [None] * (x_stop - x_start)


class MemoryTaskEnv(MiniGridEnv):
    """Minigrid base class of the rl-memory tasks (navigation actions, memory info keys).

    Subclasses implement ``_gen_grid`` (which must call ``_start_episode``) and
    ``_on_move``. Observation indices count from the reset observation (index 0); the
    observation returned by the n-th ``step`` has index n. Every ``info`` contains
    ``cue_steps`` and ``recall_step``, and the last one of an episode adds
    ``recall_correct`` and ``is_success``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.action_space = spaces.Discrete(len(NAVIGATION_ACTIONS))
        self.wall = Wall()
        self.cue_steps: list[int] = []
        self.recall_step = -1
        self.recall_correct = False

    # --- hooks for subclasses -------------------------------------------------------

    def _on_move(self, action: int, front_cell: WorldObj | None) -> tuple[float, bool]:
        """React to the action just applied and return ``(reward, terminated)``.

        Args:
            action: The action taken (0 left, 1 right, 2 forward).
            front_cell: What was in front of the agent before the action.
        """
        raise NotImplementedError

    def _before_observation(self) -> None:
        """Update the grid or mission just before the observation of ``step_count`` is made."""

    def _after_observation(self, obs: dict[str, Any]) -> None:
        """Record memory events visible in the observation of index ``step_count``."""

    # --- episode bookkeeping ----------------------------------------------------------

    def _start_episode(self) -> None:
        self.cue_steps = []
        self.recall_step = -1
        self.recall_correct = False

    def _info(self, episode_over: bool) -> dict[str, Any]:
        info: dict[str, Any] = {
            "cue_steps": tuple(self.cue_steps),
            "recall_step": self.recall_step,
        }
        if episode_over:
            info["recall_correct"] = bool(self.recall_correct)
            info["is_success"] = bool(self.recall_correct)
        return info

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start a new episode; the returned observation is index 0.

        Returns:
            ``(obs, info)`` with ``info`` holding ``cue_steps`` and ``recall_step``.
        """
        # This repeats MiniGridEnv.reset instead of calling it, because that method makes
        # an observation that ``_before_observation`` could not adjust first.
        gym.Env.reset(self, seed=seed)
        self.agent_pos = (-1, -1)
        self.agent_dir = -1
        self.carrying = None
        self.step_count = 0
        self._gen_grid(self.width, self.height)
        assert self.agent_pos != (-1, -1), "_gen_grid must place the agent"
        assert self.agent_dir >= 0, "_gen_grid must set the agent's direction"

        self._before_observation()
        if self.render_mode == "human":
            self.render()
        obs = self.gen_obs()
        self._after_observation(obs)
        return obs, self._info(episode_over=False)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Apply one navigation action.

        Args:
            action: 0 (turn left), 1 (turn right) or 2 (move forward).

        Returns:
            ``(obs, reward, terminated, truncated, info)`` with a Python float reward and
            Python bool flags. ``truncated`` is True when ``max_steps`` steps were taken
            without the episode terminating.

        Raises:
            ValueError: If ``action`` is not 0, 1 or 2.
        """
        if not self.action_space.contains(action):
            raise ValueError(
                f"action must be 0 (left), 1 (right) or 2 (forward), got {action!r}: this "
                "task uses the three navigation actions of Minigrid only."
            )
        action = int(action)
        self.step_count += 1

        front_pos = self.front_pos
        front_cell = self.grid.get(*front_pos)
        if action == Actions.left:
            self.agent_dir = (self.agent_dir - 1) % 4
        elif action == Actions.right:
            self.agent_dir = (self.agent_dir + 1) % 4
        elif front_cell is None or front_cell.can_overlap():
            self.agent_pos = (int(front_pos[0]), int(front_pos[1]))

        reward, terminated = self._on_move(action, front_cell)
        truncated = not terminated and self.step_count >= self.max_steps

        self._before_observation()
        if self.render_mode == "human":
            self.render()
        obs = self.gen_obs()
        self._after_observation(obs)
        info = self._info(episode_over=terminated or truncated)
        return obs, float(reward), bool(terminated), bool(truncated), info

    # --- helpers -------------------------------------------------------------------

    def in_observation(self, obs: dict[str, Any], pos: tuple[int, int], obj: WorldObj) -> bool:
        """Return whether ``obj``, standing at grid position ``pos``, is visible in ``obs``."""
        view = self.relative_coords(*pos)
        if view is None:
            return False
        return tuple(obs["image"][view[0], view[1]]) == obj.encode()

    def get_full_render(self, highlight: bool, tile_size: int) -> np.ndarray:
        """Render the grid, or a window of ``RENDER_WINDOW_CELLS`` columns around the agent.

        Rendering costs time proportional to the number of cells, so a corridor of length
        10,000 is drawn as the window of columns around the agent (clamped to the grid).

        Returns:
            RGB frame of shape ``(height * tile_size, columns * tile_size, 3)``, uint8.
        """
        if self.width <= RENDER_WINDOW_CELLS:
            return super().get_full_render(highlight, tile_size)
        left = int(self.agent_pos[0]) - RENDER_WINDOW_CELLS // 2
        left = min(max(left, 0), self.width - RENDER_WINDOW_CELLS)
        window = Grid(RENDER_WINDOW_CELLS, self.height)
        for y in range(self.height):
            row = y * self.width + left
            window.grid[y * RENDER_WINDOW_CELLS : (y + 1) * RENDER_WINDOW_CELLS] = self.grid.grid[
                row : row + RENDER_WINDOW_CELLS
            ]

        highlight_mask = np.zeros((RENDER_WINDOW_CELLS, self.height), dtype=bool)
        if highlight:
            _, vis_mask = self.gen_obs_grid()
            for view_x in range(self.agent_view_size):
                for view_y in range(self.agent_view_size):
                    if vis_mask[view_x, view_y]:
                        self._mark_visible(highlight_mask, view_x, view_y, left)
        agent_pos = (int(self.agent_pos[0]) - left, int(self.agent_pos[1]))
        return window.render(tile_size, agent_pos, self.agent_dir, highlight_mask=highlight_mask)

    def _mark_visible(self, mask: np.ndarray, view_x: int, view_y: int, left: int) -> None:
        forward = self.dir_vec
        right = self.right_vec
        size = self.agent_view_size
        top_left = self.agent_pos + forward * (size - 1) - right * (size // 2)
        x, y = top_left - forward * view_y + right * view_x
        x -= left
        if 0 <= x < mask.shape[0] and 0 <= y < mask.shape[1]:
            mask[x, y] = True
