"""The wandb seam: the trainer passes the requested mode to a hook that the viz package sets.

``rl_memory.viz`` installs its hook with ``set_wandb_hook`` when it is imported. The hook gets
a ``WandbRequest`` and returns an SB3 callback (or None). That callback may add its own
``KVWriter`` to ``model.logger.output_formats`` in ``_on_training_start`` to receive every
scalar that the progress lines and metrics.csv receive.

Nothing here contacts a host: the mode is ``off`` or ``offline`` unless the user asks for
``online`` with ``--wandb online``, ``log.wandb: online`` or ``WANDB_MODE=online``.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from stable_baselines3.common.callbacks import BaseCallback

from rl_memory.config import RunConfig

logger = logging.getLogger(__name__)

ResolvedWandbMode = Literal["off", "offline", "online"]

# WANDB_MODE values (wandb 0.31 Settings.mode, legacy names included) and their meaning here.
_WANDB_MODE_ENV = {
    "disabled": "off",
    "off": "off",
    "offline": "offline",
    "dryrun": "offline",
    "online": "online",
    "run": "online",
}


@dataclass(frozen=True)
class WandbRequest:
    """Arguments of the wandb hook: the mode and the run it logs."""

    mode: ResolvedWandbMode
    config: RunConfig
    run_dir: Path
    run_name: str
    resume: bool


WandbHook = Callable[[WandbRequest], BaseCallback | None]

_hook: WandbHook | None = None


def set_wandb_hook(hook: WandbHook | None) -> None:
    """Install the function that turns a ``WandbRequest`` into a training callback."""
    global _hook
    _hook = hook


def installed_wandb_hook() -> WandbHook | None:
    """Return the hook that ``set_wandb_hook`` installed last, or None."""
    return _hook


def resolve_wandb_mode(requested: str) -> ResolvedWandbMode:
    """Turn ``log.wandb`` into a concrete mode.

    'auto' follows ``WANDB_MODE`` when it is set, and otherwise is 'offline' when wandb is
    installed and 'off' when it is not. Explicit modes are returned as they are.
    """
    if requested in ("off", "offline", "online"):
        return requested  # type: ignore[return-value]
    from_env = os.environ.get("WANDB_MODE", "").strip().lower()
    if from_env in _WANDB_MODE_ENV:
        return _WANDB_MODE_ENV[from_env]  # type: ignore[return-value]
    return "offline" if importlib.util.find_spec("wandb") is not None else "off"


def wandb_callback(request: WandbRequest) -> BaseCallback | None:
    """Return the callback of the installed hook, or None when there is none.

    The hook is called in every mode, ``off`` included, because it also writes the memory
    figures to the run folder and tensorboard. With ``off`` it starts no wandb run.
    """
    if _hook is None and importlib.util.find_spec("rl_memory.viz") is not None:
        importlib.import_module("rl_memory.viz")
    if _hook is None:
        if request.mode != "off":
            logger.warning(
                "wandb mode '%s' requested, but no wandb hook is installed; metrics go to "
                "metrics.csv and tensorboard only",
                request.mode,
            )
        return None
    return _hook(request)
