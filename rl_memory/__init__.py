"""rl-memory: memory tasks, Expire-Span memory and memory-aware PPO agents.

Importing this package is cheap: it imports neither torch nor the environments. Use
``import rl_memory.envs`` to register the tasks with Gymnasium. The one exception: when
Gymnasium is already imported, importing this package registers the tasks too, so that
``gymnasium.make("rl_memory:rl_memory/Corridor-v0")`` works in a fresh interpreter and in
vector-env worker processes.
"""

import sys

__version__ = "0.1.0"

if "gymnasium" in sys.modules:
    import rl_memory.envs  # noqa: F401
