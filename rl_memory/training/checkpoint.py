"""Checkpoints: SB3 zip files with the run's configuration inside, written atomically.

A checkpoint is the zip that ``BaseAlgorithm.save`` writes plus one entry,
``rl_memory.yaml``, with the resolved ``RunConfig``, the env step count, a description of
the observation and action spaces, and (for ``best.zip``) the evaluation that made it best.

Loading never unpickles the objects that SB3 stores with cloudpickle in the zip's ``data``
entry (spaces, schedules, classes, buffers). Each of them is replaced, through SB3's
``custom_objects``, by the value a fresh agent built from the stored configuration has;
tensors load with ``torch.load(weights_only=True)``, which SB3 >= 2.8 uses.
"""

from __future__ import annotations

import io
import json
import math
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.save_util import load_from_zip_file
from stable_baselines3.common.vec_env import VecEnv

from rl_memory.config import (
    ConfigError,
    RunConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
)
from rl_memory.training.algorithms import algorithm_for
from rl_memory.training.errors import CheckpointError
from rl_memory.training.files import atomic_write_bytes
from rl_memory.training.run_dir import RunDirectory

METADATA_ENTRY = "rl_memory.yaml"
FORMAT_VERSION = 1
_REQUIRED_ENTRIES = ("data", "policy.pth", METADATA_ENTRY)


@dataclass
class CheckpointInfo:
    """Contents of the ``rl_memory.yaml`` entry of a checkpoint."""

    path: Path
    config: RunConfig
    num_timesteps: int
    observation_space: Any
    """``describe_space`` of the env's observation space."""
    action_space: Any
    train_wall_time_s: float
    evaluation: dict[str, Any] | None
    """The evaluation result stored with the checkpoint (best.zip), or None."""


def describe_space(space: spaces.Space) -> Any:
    """Return a plain-data description of a space, equal for equal spaces.

    Boxes record shape, dtype and their overall bounds; other spaces record their sizes.
    """
    if isinstance(space, spaces.Dict):
        return {"Dict": {key: describe_space(sub) for key, sub in space.spaces.items()}}
    if isinstance(space, spaces.Tuple):
        return {"Tuple": [describe_space(sub) for sub in space.spaces]}
    if isinstance(space, spaces.Box):
        return {
            "Box": {
                "shape": list(space.shape),
                "dtype": str(space.dtype),
                "low": float(np.min(space.low)),
                "high": float(np.max(space.high)),
            }
        }
    if isinstance(space, spaces.Discrete):
        return {"Discrete": {"n": int(space.n), "start": int(space.start)}}
    if isinstance(space, spaces.MultiDiscrete):
        return {"MultiDiscrete": {"nvec": np.asarray(space.nvec).tolist()}}
    if isinstance(space, spaces.MultiBinary):
        return {"MultiBinary": {"n": np.asarray(space.n).tolist()}}
    return {type(space).__name__: str(space)}


def save_checkpoint(
    model: BaseAlgorithm,
    path: Path,
    config: RunConfig,
    env: VecEnv,
    train_wall_time_s: float,
    evaluation: dict[str, Any] | None = None,
) -> None:
    """Save ``model`` with its configuration to ``path``, atomically.

    Args:
        model: The agent.
        path: Destination, usually ``checkpoints/latest.zip`` or ``checkpoints/best.zip``.
        config: The resolved configuration of the run.
        env: The env as ``build_agent_env`` builds it (before SB3's own wrappers), whose
            spaces are recorded so that loading can reject a different env with a clear message.
        train_wall_time_s: Seconds spent training so far, over all sessions of the run.
        evaluation: An evaluation result to store with the checkpoint.
    """
    metadata = {
        "format": FORMAT_VERSION,
        "num_timesteps": int(model.num_timesteps),
        "train_wall_time_s": round(float(train_wall_time_s), 3),
        "observation_space": describe_space(env.observation_space),
        "action_space": describe_space(env.action_space),
        "evaluation": evaluation,
        "config": config_to_dict(config),
    }
    saved = io.BytesIO()
    model.save(saved)
    # Copy SB3's entries into a new archive rather than appending to it, so the file has
    # one central directory only.
    combined = io.BytesIO()
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(combined, "w") as target:
        for entry in source.infolist():
            target.writestr(entry, source.read(entry))
        target.writestr(METADATA_ENTRY, yaml.safe_dump(metadata, sort_keys=False))
    atomic_write_bytes(path, combined.getvalue())


def read_checkpoint(path: Path) -> CheckpointInfo:
    """Read and check the metadata of a checkpoint without loading the agent.

    Raises:
        CheckpointError: If the file is missing, not a zip, lacks an entry, or its metadata
            is invalid.
    """
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}; pass a run folder or a .zip file")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = [entry for entry in _REQUIRED_ENTRIES if entry not in names]
            if missing:
                raise CheckpointError(
                    f"checkpoint {path} is corrupt or not from rl-memory: entry {missing[0]} "
                    "is missing; pass a checkpoint written by `rl-memory train`"
                )
            damaged = archive.testzip()
            if damaged is not None:
                raise zipfile.BadZipFile(f"entry {damaged} fails its CRC check")
            metadata = yaml.safe_load(archive.read(METADATA_ENTRY))
    except (zipfile.BadZipFile, OSError, EOFError, yaml.YAMLError) as error:
        raise CheckpointError(
            f"checkpoint {path} is corrupt ({error}); use another checkpoint, e.g. the run's "
            "checkpoints/best.zip (rl-memory eval RUN_DIR --checkpoint best)"
        ) from None
    return _parse_metadata(path, metadata)


def _parse_metadata(path: Path, metadata: Any) -> CheckpointInfo:
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_VERSION:
        found = metadata.get("format") if isinstance(metadata, dict) else None
        raise CheckpointError(
            f"checkpoint {path} has metadata format {found!r}; this version of rl-memory "
            f"reads format {FORMAT_VERSION}"
        )
    try:
        config = config_from_dict(metadata["config"], f"{path}:{METADATA_ENTRY}")
        return CheckpointInfo(
            path=path,
            config=config,
            num_timesteps=int(metadata["num_timesteps"]),
            observation_space=metadata["observation_space"],
            action_space=metadata["action_space"],
            train_wall_time_s=float(metadata.get("train_wall_time_s", 0.0)),
            evaluation=metadata.get("evaluation"),
        )
    except (KeyError, TypeError, ValueError, ConfigError) as error:
        raise CheckpointError(f"checkpoint {path} has invalid metadata: {error}") from None


def check_spaces(info: CheckpointInfo, env: VecEnv, env_id: str) -> None:
    """Raise ``CheckpointError`` unless ``env`` has the spaces the checkpoint was trained on."""
    for name, stored, current in (
        ("observation", info.observation_space, describe_space(env.observation_space)),
        ("action", info.action_space, describe_space(env.action_space)),
    ):
        if stored != current:
            where, stored_part, current_part = _first_difference(stored, current)
            raise CheckpointError(
                f"checkpoint {info.path} was trained on env '{info.config.env.id}', whose "
                f"{name} space{where} is {json.dumps(stored_part)}, but env '{env_id}' has "
                f"{json.dumps(current_part)}; use an env with the same {name} space "
                f"(the checkpoint's env.kwargs: {_env_arguments(info)})"
            )


def _env_arguments(info: CheckpointInfo) -> str:
    """Return the env arguments the checkpoint was trained with, as a YAML flow mapping."""
    env = info.config.env
    arguments = {**env.kwargs}
    if env.eval_kwargs:
        arguments["eval_kwargs"] = env.eval_kwargs
    return yaml.safe_dump(arguments, default_flow_style=True, sort_keys=False).strip()


def _first_difference(stored: Any, current: Any) -> tuple[str, Any, Any]:
    """Return where two space descriptions differ and the differing parts, kept short.

    For two Dict spaces, that is the first entry that differs (as " entry 'key'"). A Dict
    compared with another kind of space is shown by its keys only.
    """
    stored_dict = stored.get("Dict") if isinstance(stored, dict) else None
    current_dict = current.get("Dict") if isinstance(current, dict) else None
    if isinstance(stored_dict, dict) and isinstance(current_dict, dict):
        for key in sorted(set(stored_dict) | set(current_dict)):
            if stored_dict.get(key) != current_dict.get(key):
                return f" entry '{key}'", stored_dict.get(key), current_dict.get(key)
    if isinstance(stored_dict, dict):
        stored = {"Dict": sorted(stored_dict)}
    if isinstance(current_dict, dict):
        current = {"Dict": sorted(current_dict)}
    return "", stored, current


def fit_batch_envs(config: RunConfig, n_envs: int) -> RunConfig:
    """Return ``config`` with ``ppo.batch_envs`` reduced to a divisor of ``n_envs`` if needed.

    ``batch_envs`` only shapes training minibatches, so an agent can act and be evaluated
    on any number of envs. The result is a copy when anything changes.
    """
    if n_envs % config.ppo.batch_envs == 0:
        return config
    return apply_overrides(config, [f"ppo.batch_envs={math.gcd(n_envs, config.ppo.batch_envs)}"])


def load_checkpoint(
    path: Path,
    env: VecEnv,
    device: str = "auto",
    info: CheckpointInfo | None = None,
    env_id: str | None = None,
) -> BaseAlgorithm:
    """Load the agent of a checkpoint onto ``env``, with its optimizer state and step count.

    Args:
        path: The checkpoint .zip.
        env: The env to act in, built by ``build_agent_env``; it must have the observation
            and action spaces of the checkpoint's env.
        device: Torch device for the agent.
        info: The checkpoint's metadata if already read.
        env_id: Id of ``env``, named in the error when the spaces differ.

    Raises:
        CheckpointError: If the checkpoint is invalid or does not fit ``env``.
    """
    info = info if info is not None else read_checkpoint(path)
    check_spaces(info, env, env_id or "the requested env")
    config = fit_batch_envs(info.config, env.num_envs)
    spec = algorithm_for(config.memory.kind)
    fresh = spec.build(config, env)
    custom_objects = _replacements_for_pickled_entries(path, fresh)
    # Attributes passed to load() override the stored ones, here the fitted batch_envs.
    overrides: dict[str, Any] = {}
    if hasattr(fresh, "batch_envs"):
        overrides["batch_envs"] = config.ppo.batch_envs
    try:
        return spec.algorithm_class().load(
            path, env=env, device=device, custom_objects=custom_objects, **overrides
        )
    except (RuntimeError, ValueError, KeyError) as error:
        raise CheckpointError(
            f"cannot load the agent in {path}: {error}; the checkpoint does not match its "
            "stored configuration or this version of rl-memory"
        ) from None


def load_policy_weights(
    model: BaseAlgorithm, path: Path, env: VecEnv, config: RunConfig
) -> CheckpointInfo:
    """Copy the policy weights of a checkpoint into a freshly built agent.

    Only the ``policy`` state dict is read, with ``torch.load(weights_only=True)``. The new
    run keeps its own optimizer, step count and configuration, so it can start from an
    agent trained on an easier task, such as a shorter corridor.

    Args:
        model: The new run's agent, built from ``config``.
        path: The checkpoint to start from, or a run folder (its ``checkpoints/latest.zip``).
        env: The new run's env, built by ``build_agent_env``.
        config: The new run's configuration.

    Raises:
        CheckpointError: If the checkpoint is invalid, its spaces differ from ``env``'s, or
            its policy has another architecture than ``model``'s.
    """
    if path.is_dir():
        path = RunDirectory(path).latest_checkpoint
    info = read_checkpoint(path)
    check_spaces(info, env, config.env.id)
    if info.config.memory.kind != config.memory.kind:
        raise CheckpointError(
            f"cannot start from {path}: it was trained with memory '{info.config.memory.kind}',"
            f" this run uses '{config.memory.kind}'; pass --memory {info.config.memory.kind}"
        )
    _, params, _ = load_from_zip_file(path, load_data=False, device=model.device)
    try:
        model.policy.load_state_dict(params["policy"])  # type: ignore[arg-type]
    except (KeyError, RuntimeError) as error:
        # torch's message starts with a header line; the next line names the first mismatch.
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = (lines[1] if len(lines) > 1 else lines[0])[:200]
        raise CheckpointError(
            f"cannot start from {path}: its policy does not fit this run's ({detail}); "
            "use the memory and encoder sizes of the run that wrote it"
        ) from None
    return info


def _replacements_for_pickled_entries(path: Path, fresh: BaseAlgorithm) -> dict[str, Any]:
    with zipfile.ZipFile(path) as archive:
        data = json.loads(archive.read("data"))
    replacements: dict[str, Any] = {}
    for key, item in data.items():
        if isinstance(item, dict) and ":serialized:" in item:
            if not hasattr(fresh, key):
                warnings.warn(
                    f"checkpoint entry '{key}' is not an attribute of a fresh agent; "
                    "it is set to None instead of being unpickled",
                    stacklevel=3,
                )
            replacements[key] = getattr(fresh, key, None)
    return replacements
