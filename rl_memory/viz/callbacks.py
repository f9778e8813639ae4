"""Training callbacks that record what the agent remembers and send it to every output.

``make_viz_callbacks`` is the one call a training command needs: it resolves the wandb mode,
starts the wandb run in the run folder, and returns

- ``MemoryVizCallback``: every ``interval`` env steps and once at the end of training, it
  records evaluation episodes with the agent's memory. Their figures, per-step table and
  ``memory/cue_retained`` go to the run folder, the SB3 logger (tensorboard) and wandb;
- ``WandbCallback`` (when wandb is on): adds a ``WandbWriter`` to the model's SB3 logger so
  every scalar SB3 dumps reaches wandb at ``step=num_timesteps``, and finishes the run when
  training ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Image

from rl_memory.viz.media import episode_figures, figure_to_array, save_png, write_trace_csv
from rl_memory.viz.metrics import memory_metrics
from rl_memory.viz.trace import (
    EpisodeTrace,
    PolicyStep,
    describe_memory,
    model_policy_step,
    record_episode,
)
from rl_memory.viz.wandb_logger import (
    WandbMode,
    WandbOutput,
    WandbWriter,
    init_wandb,
    log_episode,
    resolve_wandb_mode,
)

logger = logging.getLogger(__name__)

NOT_FOR_IMAGES = ("stdout", "log", "json", "csv", "wandb")
"""SB3 output formats that cannot show images (wandb gets them from ``log_episode``)."""
MEMORY_FOLDER = "memory"
"""Sub-folder of the run folder that receives one folder of figures per recording."""


class MemoryVizCallback(BaseCallback):
    """Record evaluation episodes with the agent's memory every ``interval`` env steps.

    Each recording runs ``n_episodes`` episodes on its own env, with seeds ``seed``,
    ``seed + 1``, ... at every recording, so figures compare across training. It logs
    ``memory/cue_retained`` (and ``/layer{i}``) to the SB3 logger. The first episode's three
    figures go to ``<run_dir>/memory/step_<N>/`` as PNG files next to ``trace.csv``, to
    tensorboard as images, and to wandb with the per-step table and, when frames and video
    encoders exist, a video.

    Args:
        env_id: the training env's id, for ``rl_memory.envs.make_env``.
        env_kwargs: constructor arguments of that env.
        interval: env steps between recordings; must be at least 1.
        run_dir: run folder for the PNG files; None writes no files.
        wandb_output: the wandb run, or None.
        n_episodes: episodes per recording, for ``memory/cue_retained``.
        seed: seed of the first episode.
        max_steps: stop recording an episode after this many steps (None: no limit).
        top_k: thumbnails in the recall figure besides the cue frames.
        policy_step: builds the per-step policy from the model; the default uses the
            model's memory when it has one (``model_policy_step``).
        verbose: SB3 verbosity.
    """

    def __init__(
        self,
        env_id: str,
        env_kwargs: Mapping[str, Any] | None = None,
        *,
        interval: int,
        run_dir: str | Path | None = None,
        wandb_output: WandbOutput | None = None,
        n_episodes: int = 1,
        seed: int = 0,
        max_steps: int | None = None,
        top_k: int = 8,
        policy_step: Callable[[Any], PolicyStep] = model_policy_step,
        verbose: int = 0,
    ) -> None:
        super().__init__(verbose)
        if interval < 1:
            raise ValueError(
                f"interval={interval} is invalid: pass the number of env steps between "
                "recordings (at least 1)."
            )
        if n_episodes < 1:
            raise ValueError(f"n_episodes={n_episodes} is invalid: record at least 1 episode.")
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self.interval = interval
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.wandb_output = wandb_output
        self.n_episodes = n_episodes
        self.seed = seed
        self.max_steps = max_steps
        self.top_k = top_k
        self.policy_step = policy_step
        self.last_recorded_step: int | None = None
        self._env: Any = None
        self.can_record = True

    def _on_training_start(self) -> None:
        from rl_memory.envs import make_env

        self.last_recorded_step = self.num_timesteps  # a resumed run starts counting here
        self._env = make_env(self.env_id, **self.env_kwargs)
        if self._env.observation_space != self.model.observation_space:
            # A frame-stacking agent reads stacked observations, which a single env's step
            # does not provide, so its episodes cannot be recorded frame by frame.
            logger.info(
                "Not recording memory traces: the agent's observation space %s differs from "
                "the env's %s (for example a frame stack).",
                self.model.observation_space,
                self._env.observation_space,
            )
            self.can_record = False

    def _on_step(self) -> bool:
        last = 0 if self.last_recorded_step is None else self.last_recorded_step
        if self.can_record and self.num_timesteps - last >= self.interval:
            self.record_and_log()
        return True

    def _on_training_end(self) -> None:
        if self.can_record and self.last_recorded_step != self.num_timesteps:
            self.record_and_log()
            self.logger.dump(self.num_timesteps)

    def record_episodes(self) -> list[EpisodeTrace]:
        """Record ``n_episodes`` episodes with the current policy."""
        if self._env is None:
            from rl_memory.envs import make_env

            self._env = make_env(self.env_id, **self.env_kwargs)
        step = self.policy_step(self.model)
        traces = []
        for index in range(self.n_episodes):
            trace = record_episode(
                step,
                self._env,
                env_id=self.env_id,
                seed=self.seed + index,
                max_steps=self.max_steps,
            )
            describe_memory(trace, self.model.policy)
            traces.append(trace)
        return traces

    def record_and_log(self) -> list[EpisodeTrace]:
        """Record episodes now and send their metrics and figures to every output."""
        self.last_recorded_step = self.num_timesteps
        traces = self.record_episodes()
        for key, value in memory_metrics(traces).items():
            self.logger.record(key, value)
        shown = traces[0]
        images = {
            name: figure_to_array(fig)
            for name, fig in episode_figures(shown, top_k=self.top_k).items()
        }
        for name, image in images.items():
            self.logger.record(
                f"{MEMORY_FOLDER}/{name}", Image(image, "HWC"), exclude=NOT_FOR_IMAGES
            )
        if self.run_dir is not None:
            self._save_files(shown, images)
        if self.wandb_output is not None:
            log_episode(self.wandb_output, shown, images, self.num_timesteps)
        return traces

    def _save_files(self, trace: EpisodeTrace, images: Mapping[str, Any]) -> None:
        assert self.run_dir is not None
        folder = self.run_dir / MEMORY_FOLDER / f"step_{self.num_timesteps:09d}"
        for name, image in images.items():
            save_png(image, folder / f"{name}.png")
        write_trace_csv(trace, folder / "trace.csv")


class WandbCallback(BaseCallback):
    """Send the SB3 logger's scalars to a wandb run and finish the run when training ends.

    Args:
        output: the run from ``init_wandb``.
        finish_at_end: finish the run in ``_on_training_end``; pass False to log more
            (e.g. a final evaluation) and call ``output.finish()`` yourself.
    """

    def __init__(self, output: WandbOutput, finish_at_end: bool = True, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.output = output
        self.finish_at_end = finish_at_end

    def _on_training_start(self) -> None:
        formats = self.model.logger.output_formats
        if not any(isinstance(f, WandbWriter) and f.output is self.output for f in formats):
            formats.append(WandbWriter(self.output))

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        if self.finish_at_end:
            # Later dumps of the SB3 logger (a final evaluation, say) must not reach a
            # finished run.
            formats = self.model.logger.output_formats
            formats[:] = [f for f in formats if not isinstance(f, WandbWriter)]
            self.output.finish()


def make_viz_callbacks(
    run_dir: str | Path,
    env_id: str,
    env_kwargs: Mapping[str, Any] | None = None,
    mode: WandbMode | str | None = None,
    interval: int = 10_000,
    *,
    config: Mapping[str, Any] | None = None,
    n_episodes: int = 1,
    seed: int = 0,
    project: str = "rl-memory",
    run_name: str | None = None,
) -> list[BaseCallback]:
    """Return the callbacks that log what the agent remembers, starting wandb if on.

    Args:
        run_dir: the run folder; figures go to ``<run_dir>/memory/`` and the wandb run to
            ``<run_dir>/wandb/``.
        env_id: the training env's id.
        env_kwargs: its constructor arguments.
        mode: ``"off"``, ``"offline"`` or ``"online"``; None reads ``WANDB_MODE`` and
            defaults to offline (see ``resolve_wandb_mode``).
        interval: env steps between recorded episodes (e.g. the evaluation interval).
        config: the resolved run configuration, stored in the wandb run.
        n_episodes: episodes per recording.
        seed: seed of the first recorded episode.
        project: wandb project.
        run_name: wandb run name (default: the run folder's name).

    Returns:
        ``[MemoryVizCallback]``, plus a ``WandbCallback`` last when wandb is on. Pass them to
        ``model.learn(callback=...)`` (a list works).
    """
    resolved = resolve_wandb_mode(mode)
    run_dir = Path(run_dir)
    output = init_wandb(resolved, run_dir, config, project=project, name=run_name or run_dir.name)
    callbacks: list[BaseCallback] = [
        MemoryVizCallback(
            env_id,
            env_kwargs,
            interval=interval,
            run_dir=run_dir,
            wandb_output=output,
            n_episodes=n_episodes,
            seed=seed,
        )
    ]
    if output is not None:
        callbacks.append(WandbCallback(output))
    return callbacks
