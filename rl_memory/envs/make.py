"""``make_env``: build any registered environment the way rl-memory agents consume it."""

from __future__ import annotations

import difflib
from typing import Any

import gymnasium
import minigrid  # noqa: F401  (registers the MiniGrid-* and BabyAI-* ids)
from minigrid.minigrid_env import MiniGridEnv

from rl_memory.envs.wrappers import NumericObsWrapper

MODULE_PREFIX = "rl_memory:"


def resolve_env_id(env_id: str) -> str:
    """Return the registry id for ``env_id``, accepting an optional ``rl_memory:`` prefix.

    Raises:
        ValueError: If the id is not registered; the message suggests close matches.
    """
    import rl_memory.envs  # noqa: F401  (registers the rl_memory/ ids)

    name = env_id.removeprefix(MODULE_PREFIX)
    if name in gymnasium.registry:
        return name
    close = difflib.get_close_matches(name, list(gymnasium.registry), n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(match) for match in close)}?" if close else ""
    raise ValueError(
        f"unknown environment id {env_id!r}.{hint} Run `rl-memory envs` to list the "
        "rl-memory tasks."
    )


def make_env(env_id: str, render_mode: str | None = None, **kwargs: Any) -> gymnasium.Env:
    """Create a registered environment wrapped for agents.

    Minigrid environments (the rl-memory tasks included) get ``NumericObsWrapper``, so
    their observations are ``image`` (V, V, 3) uint8, ``direction`` and ``mission`` token
    ids. Other environments are returned as ``gymnasium.make`` builds them.

    Args:
        env_id: A registered id such as ``"rl_memory/Corridor-L100-v0"``, with or without
            the ``"rl_memory:"`` prefix, or any other registered Gymnasium id
            (``"MiniGrid-MemoryS7-v0"``).
        render_mode: None, ``"rgb_array"`` or ``"human"``.
        **kwargs: Constructor arguments that override the registered ones.

    Raises:
        ValueError: If the id is unknown (with a did-you-mean) or an argument is invalid.
    """
    env = gymnasium.make(resolve_env_id(env_id), render_mode=render_mode, **kwargs)
    if isinstance(env.unwrapped, MiniGridEnv):
        env = NumericObsWrapper(env)
    return env
