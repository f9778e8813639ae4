"""``rl-memory play``: drive a task with the keyboard through Minigrid's manual control."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from rl_memory.commands import seed_value


def register(subparsers: Any) -> None:
    """Add the ``play`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "play",
        help="play a task with the keyboard",
        description="Open a window on a task and drive the agent with the arrow keys "
        "(left and right turn, up moves forward; backspace resets, escape quits).",
    )
    parser.add_argument(
        "--env", required=True, metavar="ID", help="task id, e.g. rl_memory/Corridor-L10-v0"
    )
    parser.add_argument("--seed", type=seed_value, default=None, help="seed of the first episode")
    parser.set_defaults(func=run)


def _has_display() -> bool:
    """Return whether pygame can open a window: always on macOS and Windows, else with a display."""
    if sys.platform in ("darwin", "win32"):
        return True
    if os.environ.get("SDL_VIDEODRIVER") in ("dummy", "offscreen"):
        return True  # a headless SDL driver, as the tests use
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run(args: argparse.Namespace) -> int:
    """Open the task in a window and hand the keyboard to Minigrid's ManualControl."""
    import gymnasium
    from minigrid.manual_control import ManualControl

    from rl_memory.cli import UsageError
    from rl_memory.envs.make import resolve_env_id

    try:
        env_id = resolve_env_id(args.env)
    except ValueError as error:
        raise UsageError(str(error)) from error
    if not _has_display():
        raise UsageError(
            "play opens a window, but no display was found (DISPLAY and WAYLAND_DISPLAY are "
            "unset): run it on a desktop session or with X forwarding (ssh -X)"
        )
    env = gymnasium.make(env_id, render_mode="human")

    class NavigationControl(ManualControl):
        """ManualControl that ignores keys whose action the task's action space lacks."""

        def step(self, action: Any) -> None:
            if env.action_space.contains(int(action)):
                super().step(action)

    NavigationControl(env, seed=args.seed).start()
    return 0
