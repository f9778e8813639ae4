"""Run management: run folders, training and resuming, checkpoints, evaluation, progress output.

The entry points are ``train`` (a new run), ``resume`` (continue a run) and ``evaluate``
(any SB3 agent on a VecEnv). ``register_algorithm`` adds an algorithm for a new memory kind.
"""

from rl_memory.training.algorithms import (
    AlgorithmSpec,
    algorithm_for,
    algorithm_kinds,
    register_algorithm,
)
from rl_memory.training.checkpoint import (
    CheckpointInfo,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from rl_memory.training.envs import build_agent_env, build_vec_env
from rl_memory.training.errors import CheckpointError, EnvSetupError, RunDirError, RunError
from rl_memory.training.evaluation import MIN_FINAL_EPISODES, EvalResult, evaluate
from rl_memory.training.hooks import WandbRequest, set_wandb_hook
from rl_memory.training.run_dir import RunDirectory, default_run_dir
from rl_memory.training.trainer import apply_torch_threads, evaluation_record, resume, train

__all__ = [
    "MIN_FINAL_EPISODES",
    "AlgorithmSpec",
    "CheckpointError",
    "CheckpointInfo",
    "EnvSetupError",
    "EvalResult",
    "RunDirError",
    "RunDirectory",
    "RunError",
    "WandbRequest",
    "algorithm_for",
    "algorithm_kinds",
    "apply_torch_threads",
    "build_agent_env",
    "build_vec_env",
    "default_run_dir",
    "evaluate",
    "evaluation_record",
    "load_checkpoint",
    "read_checkpoint",
    "register_algorithm",
    "resume",
    "save_checkpoint",
    "set_wandb_hook",
    "train",
]
