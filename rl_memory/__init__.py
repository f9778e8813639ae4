"""rl-memory: memory tasks, Expire-Span memory and memory-aware PPO agents.

Importing this package is cheap: it imports neither torch nor the environments. Use
``import rl_memory.envs`` to register the tasks with Gymnasium.
"""

__version__ = "0.1.0"
