"""Which algorithm trains which memory: a registry keyed by ``memory.kind``.

Every entry defines how to build a fresh agent from a ``RunConfig`` and a VecEnv, and which
SB3 algorithm class loads its checkpoints. The transformer memories ("expire-span",
"transformer-xl", "all") train with ``ExpireSpanPPO``. The baselines of
``rl_memory.agents.baselines`` ("lstm": sb3-contrib ``RecurrentPPO``; "frame-stack": SB3
``PPO`` on a ``VecFrameStack``; "none": SB3 ``PPO``) have their own entries; ``wrap_env`` is
where an entry adds VecEnv wrappers it needs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.type_aliases import Schedule
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.common.vec_env import VecEnv

from rl_memory.agents import baselines
from rl_memory.config import RunConfig
from rl_memory.training.errors import RunError


def _no_wrapper(env: VecEnv, config: RunConfig) -> VecEnv:
    return env


@dataclass(frozen=True)
class AlgorithmSpec:
    """How to build, and how to load, the agent for one memory kind."""

    algorithm_class: Callable[[], type[BaseAlgorithm]]
    """Returns the SB3 algorithm class; called lazily so that importing this module is cheap."""
    build: Callable[[RunConfig, VecEnv], BaseAlgorithm]
    """Builds a fresh, untrained agent for the (already wrapped) training env."""
    wrap_env: Callable[[VecEnv, RunConfig], VecEnv] = _no_wrapper
    """Adds the VecEnv wrappers the agent needs, for training and evaluation alike."""


_REGISTRY: dict[str, AlgorithmSpec] = {}


def register_algorithm(kind: str, spec: AlgorithmSpec) -> None:
    """Use ``spec`` for runs whose ``memory.kind`` is ``kind``; replaces an earlier entry."""
    _REGISTRY[kind] = spec


def algorithm_kinds() -> list[str]:
    """Return the memory kinds that have an algorithm, in registration order."""
    return list(_REGISTRY)


def algorithm_for(kind: str) -> AlgorithmSpec:
    """Return the algorithm entry of a memory kind.

    Raises:
        RunError: If no algorithm is registered for ``kind``.
    """
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise RunError(
            f"no algorithm is registered for memory kind '{kind}'; allowed values: "
            f"{', '.join(_REGISTRY)}"
        ) from None


def rate(config: RunConfig, value: float) -> float | Schedule:
    """Return ``value`` as a constant rate or, for ``config.ppo.lr_schedule='linear'``, a
    schedule falling linearly to 0."""
    if config.ppo.lr_schedule == "linear":
        return LinearSchedule(start=value, end=0.0, end_fraction=1.0)
    return value


def ppo_kwargs(config: RunConfig) -> dict[str, Any]:
    """Return the constructor arguments that every PPO variant takes from a config."""
    ppo = config.ppo
    return {
        "learning_rate": rate(config, ppo.learning_rate),
        "n_steps": ppo.n_steps,
        "n_epochs": ppo.n_epochs,
        "gamma": ppo.gamma,
        "gae_lambda": ppo.gae_lambda,
        "clip_range": ppo.clip_range,
        "ent_coef": ppo.ent_coef,
        "vf_coef": ppo.vf_coef,
        "max_grad_norm": ppo.max_grad_norm,
        "normalize_advantage": ppo.normalize_advantage,
        "seed": config.train.seed,
        "device": config.train.device,
        "verbose": 0,
    }


def _expire_span_ppo_class() -> type[BaseAlgorithm]:
    from rl_memory.agents import ExpireSpanPPO

    return ExpireSpanPPO


def build_expire_span_ppo(config: RunConfig, env: VecEnv) -> BaseAlgorithm:
    """Build ``ExpireSpanPPO`` with the memory of ``config.memory`` (any transformer kind)."""
    algorithm_class: Any = _expire_span_ppo_class()
    return algorithm_class(  # type: ignore[no-any-return]
        "MemoryPolicy",
        env,
        batch_envs=config.ppo.batch_envs,
        span_learning_rate=(
            None
            if config.ppo.span_learning_rate is None
            else rate(config, config.ppo.span_learning_rate)
        ),
        policy_kwargs={
            "memory": copy.deepcopy(config.memory),
            "encoder": copy.deepcopy(config.encoder),
        },
        **ppo_kwargs(config),
    )


def _sb3_ppo_class() -> type[BaseAlgorithm]:
    from stable_baselines3 import PPO

    return PPO


def build_sb3_ppo(config: RunConfig, env: VecEnv) -> BaseAlgorithm:
    """Build SB3's memoryless ``PPO`` with the same observation encoder as the memory agents.

    Minibatches hold ``batch_envs * n_steps`` transitions, the same amount of data as the
    memory agents' minibatches of ``batch_envs`` env chunks.
    """
    from gymnasium import spaces
    from stable_baselines3 import PPO

    from rl_memory.agents.encoder import MemoryFeaturesExtractor

    policy = "MultiInputPolicy" if isinstance(env.observation_space, spaces.Dict) else "MlpPolicy"
    return PPO(
        policy,
        env,
        batch_size=config.ppo.batch_envs * config.ppo.n_steps,
        policy_kwargs={
            "features_extractor_class": MemoryFeaturesExtractor,
            "features_extractor_kwargs": {"config": copy.deepcopy(config.encoder)},
            "normalize_images": False,
        },
        **ppo_kwargs(config),
    )


SB3_PPO = AlgorithmSpec(algorithm_class=_sb3_ppo_class, build=build_sb3_ppo)
"""SB3 PPO without memory; registered by baselines and used by tests as a stand-in."""

EXPIRE_SPAN_PPO = AlgorithmSpec(algorithm_class=_expire_span_ppo_class, build=build_expire_span_ppo)

for _kind in ("expire-span", "transformer-xl", "all"):
    register_algorithm(_kind, EXPIRE_SPAN_PPO)

register_algorithm(
    "lstm",
    AlgorithmSpec(
        algorithm_class=baselines.recurrent_ppo_class, build=baselines.build_recurrent_ppo
    ),
)
register_algorithm(
    "frame-stack",
    AlgorithmSpec(
        algorithm_class=baselines.ppo_class,
        build=baselines.build_frame_stack_ppo,
        wrap_env=baselines.wrap_frame_stack,
    ),
)
register_algorithm(
    "none", AlgorithmSpec(algorithm_class=baselines.ppo_class, build=baselines.build_ppo)
)
