"""``rl-memory play``: drive a task with the keyboard through Minigrid's manual control."""

from __future__ import annotations

import argparse
from typing import Any


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
    parser.add_argument("--seed", type=int, default=None, help="seed of the first episode")
    parser.set_defaults(func=run)


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
    env = gymnasium.make(env_id, render_mode="human")

    class NavigationControl(ManualControl):
        """ManualControl that ignores keys whose action the task's action space lacks."""

        def step(self, action: Any) -> None:
            if env.action_space.contains(int(action)):
                super().step(action)

    NavigationControl(env, seed=args.seed).start()
    return 0
