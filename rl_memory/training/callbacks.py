"""The SB3 callback that evaluates and checkpoints a run on its schedule."""

from __future__ import annotations

from typing import Protocol

from stable_baselines3.common.callbacks import BaseCallback


class ScheduledWork(Protocol):
    """Work the callback triggers; the trainer's session implements it."""

    def on_update_boundary(self, num_timesteps: int) -> None:
        """Run the evaluations and checkpoints that are due at ``num_timesteps`` env steps."""


class ScheduleCallback(BaseCallback):
    """Call ``work.on_update_boundary`` at the start of every rollout.

    At that point the previous update has finished, so a checkpoint contains parameters and
    optimizer state that have seen every env step counted in ``num_timesteps``, and an
    evaluation measures the agent those steps trained.
    """

    def __init__(self, work: ScheduledWork) -> None:
        super().__init__()
        self.work = work

    def _on_rollout_start(self) -> None:
        self.work.on_update_boundary(self.num_timesteps)

    def _on_step(self) -> bool:
        return True
