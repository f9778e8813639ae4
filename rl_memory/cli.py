"""The ``rl-memory`` command: one subcommand per module in ``rl_memory.commands``.

Each command module defines ``register(subparsers)``, which adds its parser and sets
``func`` to the function that runs it. Command modules import torch and the agents inside
that function, so ``rl-memory --help`` and ``rl-memory envs`` stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# Subcommands in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = ("envs", "play", "train", "eval", "visualize", "bench")


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rl-memory",
        description="Memory tasks, Expire-Span memory and memory-aware PPO agents.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"rl_memory.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as error:
        print(f"rl-memory {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rl-memory: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (``rl-memory envs | head``): stop quietly, and
        # point stdout at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
