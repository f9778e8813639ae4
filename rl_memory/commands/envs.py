"""``rl-memory envs``: list the registered rl-memory tasks."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``envs`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "envs",
        help="list the registered rl-memory tasks",
        description="List every registered rl-memory task id with a one-line description "
        "and the difficulty arguments of its preset.",
    )
    parser.set_defaults(func=run)


def describe_envs() -> list[tuple[str, str, str]]:
    """Return ``(id, description, arguments)`` for every registered rl-memory task."""
    import gymnasium

    import rl_memory.envs

    rows = []
    for env_id in rl_memory.envs.registered_ids():
        spec = gymnasium.spec(env_id)
        env_class = spec.entry_point
        if isinstance(env_class, str):
            module_name, class_name = env_class.split(":")
            module = __import__(module_name, fromlist=[class_name])
            env_class = getattr(module, class_name)
        doc = (getattr(env_class, "__doc__", None) or "").strip()
        summary = doc.splitlines()[0] if doc else ""
        arguments = ", ".join(f"{key}={value}" for key, value in spec.kwargs.items())
        rows.append((env_id, summary, arguments))
    return rows


def run(args: argparse.Namespace) -> int:
    """Print one line per registered task: id, difficulty arguments, description."""
    rows = describe_envs()
    id_width = max(len(row[0]) for row in rows)
    args_width = max(len(row[2]) for row in rows)
    for env_id, summary, arguments in rows:
        print(f"{env_id:<{id_width}}  {arguments:<{args_width}}  {summary}")
    return 0
