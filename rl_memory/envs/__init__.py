"""Memory tasks as Minigrid environments, registered with Gymnasium on import.

``import rl_memory.envs`` registers every task under the ``rl_memory/`` namespace; it
imports Gymnasium and Minigrid but not torch. Use ``gymnasium.make("rl_memory/Corridor-v0")``
for the raw Minigrid environment, or ``make_env`` for the numeric observations agents take.
"""

from __future__ import annotations

import gymnasium

from rl_memory.envs.base import UnsolvableTaskWarning
from rl_memory.envs.corridor import CorridorEnv
from rl_memory.envs.instruction import InstructionEnv
from rl_memory.envs.make import make_env
from rl_memory.envs.portal import PortalEnv
from rl_memory.envs.wrappers import MissionVocabulary, NumericObsWrapper

NAMESPACE = "rl_memory"
CORRIDOR_LENGTHS: tuple[int, ...] = (10, 30, 100, 300, 1000, 3000, 10000)
PORTAL_ROOM_COUNTS: tuple[int, ...] = (2, 4, 6)
INSTRUCTION_DELAYS: tuple[int, ...] = (10, 100, 1000)


def _register(name: str, entry_point: str, kwargs: dict[str, int]) -> None:
    env_id = f"{NAMESPACE}/{name}"
    if env_id not in gymnasium.registry:
        gymnasium.register(id=env_id, entry_point=entry_point, kwargs=kwargs)


def register_envs() -> None:
    """Register every rl-memory task id; ids already registered are left as they are."""
    corridor = "rl_memory.envs.corridor:CorridorEnv"
    _register("Corridor-v0", corridor, {"length": 10})
    for length in CORRIDOR_LENGTHS:
        _register(f"Corridor-L{length}-v0", corridor, {"length": length})

    portal = "rl_memory.envs.portal:PortalEnv"
    _register("Portal-v0", portal, {"n_rooms": 2})
    for n_rooms in PORTAL_ROOM_COUNTS:
        _register(f"Portal-R{n_rooms}-v0", portal, {"n_rooms": n_rooms})

    instruction = "rl_memory.envs.instruction:InstructionEnv"
    _register("Instruction-v0", instruction, {"delay": 10})
    for delay in INSTRUCTION_DELAYS:
        _register(f"Instruction-D{delay}-v0", instruction, {"delay": delay})


def registered_ids() -> list[str]:
    """Return the registered rl-memory task ids in registration order."""
    return [env_id for env_id in gymnasium.registry if env_id.startswith(f"{NAMESPACE}/")]


register_envs()

__all__ = [
    "CORRIDOR_LENGTHS",
    "INSTRUCTION_DELAYS",
    "PORTAL_ROOM_COUNTS",
    "CorridorEnv",
    "InstructionEnv",
    "MissionVocabulary",
    "NumericObsWrapper",
    "PortalEnv",
    "UnsolvableTaskWarning",
    "make_env",
    "register_envs",
    "registered_ids",
]
