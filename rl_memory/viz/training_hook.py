"""The viz side of the trainer's wandb seam (``rl_memory.training.hooks``).

Importing ``rl_memory.viz`` installs ``viz_callback`` as the trainer's wandb hook, so every
``rl-memory train`` writes the memory figures and per-step tables to the run folder and
tensorboard, and with ``--wandb offline|online`` also puts them and every SB3 scalar in its
wandb run.
"""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.callbacks import BaseCallback, CallbackList

from rl_memory.viz.callbacks import make_viz_callbacks

RECORDED_EPISODES = 4
"""Episodes recorded at every evaluation for ``memory/cue_retained``; the first is shown."""


def viz_callback(request: Any) -> BaseCallback | None:
    """Build the callbacks for a ``WandbRequest`` (mode, config, run_dir, run_name, resume).

    Recordings happen every ``train.eval_interval`` env steps on ``env.id`` with
    ``env.kwargs`` and ``env.eval_kwargs``, seeded from ``train.seed``.
    """
    from rl_memory.config import config_to_dict, for_evaluation

    config = request.config
    recorded_env = for_evaluation(config).env
    interval = (
        config.train.eval_interval if config.train.eval_interval > 0 else config.train.total_steps
    )
    callbacks = make_viz_callbacks(
        request.run_dir,
        recorded_env.id,
        recorded_env.kwargs,
        mode=request.mode,
        interval=max(1, interval),
        config=config_to_dict(config),
        n_episodes=RECORDED_EPISODES,
        seed=config.train.seed,
        run_name=request.run_name,
    )
    return CallbackList(callbacks)


def install() -> None:
    """Make ``viz_callback`` the trainer's wandb hook (no-op without the training package)."""
    try:
        from rl_memory.training.hooks import set_wandb_hook
    except ImportError:
        return
    set_wandb_hook(viz_callback)
