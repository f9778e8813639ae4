"""Vectorised environments for training and evaluation, built from an ``EnvConfig``."""

from __future__ import annotations

import difflib
import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any

import gymnasium
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecMonitor

from rl_memory.config import EnvConfig, RunConfig
from rl_memory.envs import UnsolvableTaskWarning
from rl_memory.training.algorithms import algorithm_for
from rl_memory.training.errors import EnvSetupError

# Evaluation envs are seeded with the training seed plus this offset, so evaluation episodes
# are not the first training episodes replayed.
EVAL_SEED_OFFSET = 10_000


def make_single_env(env_id: str, kwargs: dict[str, Any]) -> gymnasium.Env:
    """Create one env through ``rl_memory.envs.make_env`` (module-level, so it pickles)."""
    from rl_memory.envs import make_env

    return make_env(env_id, **kwargs)


def check_env_config(env: EnvConfig) -> None:
    """Build and close one env in this process, turning construction errors into one line.

    Raises:
        EnvSetupError: If the id is unknown, the env rejects ``env.kwargs``, or they leave
            no episode a way to succeed (``UnsolvableTaskWarning``).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UnsolvableTaskWarning)
            single = make_single_env(env.id, dict(env.kwargs))
    except TypeError as error:
        raise EnvSetupError(_argument_error_message(env, error)) from None
    except (ValueError, gymnasium.error.Error, UnsolvableTaskWarning) as error:
        kwargs = f" with env.kwargs {env.kwargs}" if env.kwargs else ""
        raise EnvSetupError(f"cannot create env '{env.id}'{kwargs}: {error}") from None
    single.close()


def _argument_error_message(env: EnvConfig, error: TypeError) -> str:
    """Return an error naming the rejected env arguments, close matches and accepted ones."""
    from rl_memory.envs.make import resolve_env_id

    message = f"cannot create env '{env.id}' with env.kwargs {env.kwargs}: {error}"
    try:
        entry_point = gymnasium.spec(resolve_env_id(env.id)).entry_point
        env_class = gymnasium.envs.registration.load_env_creator(entry_point)  # type: ignore[arg-type]
        parameters = inspect.signature(env_class).parameters
    except (ValueError, TypeError, gymnasium.error.Error):
        return message
    accepted = [
        name
        for name, parameter in parameters.items()
        if parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)
    ]
    unknown = [name for name in env.kwargs if name not in accepted]
    if not unknown:
        return message
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, accepted, n=1)
        hints.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    return (
        f"invalid env.kwargs for '{env.id}': unknown argument {', '.join(hints)}; "
        f"accepted arguments: {', '.join(accepted)}"
    )


def build_vec_env(env: EnvConfig, seed: int, n_envs: int | None = None) -> VecEnv:
    """Build ``n_envs`` (default ``env.n_envs``) copies of the env as a monitored SB3 VecEnv.

    Sub-env ``i`` is seeded with ``seed + i`` on the first reset. ``VecMonitor`` adds the
    episode return and length to the final step's info, which SB3 reads for its
    ``rollout/ep_rew_mean``; the env's own ``is_success`` gives ``rollout/success_rate``.

    Raises:
        EnvSetupError: If the env cannot be created (see ``check_env_config``).
    """
    check_env_config(env)
    count = n_envs if n_envs is not None else env.n_envs
    factory: Callable[[], gymnasium.Env] = functools.partial(
        make_single_env, env.id, dict(env.kwargs)
    )
    factories = [factory] * count
    vec_env: VecEnv = (
        SubprocVecEnv(factories) if env.vec_env == "subproc" else DummyVecEnv(factories)
    )
    vec_env = VecMonitor(vec_env)
    vec_env.seed(seed)
    return vec_env


def build_agent_env(config: RunConfig, seed: int, n_envs: int | None = None) -> VecEnv:
    """Build the VecEnv of ``config.env`` with the wrappers that the run's algorithm adds.

    Training, evaluation and checkpoint loading all build their envs here, so the agent
    receives the same observations in all three.
    """
    spec = algorithm_for(config.memory.kind)
    return spec.wrap_env(build_vec_env(config.env, seed, n_envs), config)
