"""Weights & Biases output that stays on this machine unless online mode is requested.

Modes (``--wandb off|offline|online``):

- ``off``: wandb is not imported and nothing is written.
- ``offline`` (the default): the run is written under ``<run_dir>/wandb/offline-run-*`` and
  nothing contacts a host. Upload it later with ``wandb sync <run_dir>/wandb/offline-run-*``.
- ``online``: live sync. It needs credentials: ``WANDB_API_KEY``, or the ``.netrc`` entry for
  the W&B host that ``wandb login`` writes. Without them the run falls back to offline with
  a warning. Credentials alone never switch a run online, because the user must request it.

When no mode is passed, ``WANDB_MODE`` is followed when set (``disabled`` maps to ``off``),
so CI can turn wandb off without changing commands.

A wandb failure after start-up never stops training: ``WandbOutput`` warns once and drops
every later call of that run.
"""

from __future__ import annotations

import importlib.util
import logging
import netrc
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import numpy as np
from stable_baselines3.common.logger import KVWriter

from rl_memory.viz.media import trace_table, trace_video
from rl_memory.viz.trace import EpisodeTrace

logger = logging.getLogger(__name__)

WandbMode = Literal["off", "offline", "online"]
WANDB_MODES: tuple[WandbMode, ...] = ("off", "offline", "online")
DEFAULT_BASE_URL = "https://api.wandb.ai"
MEDIA_PACKAGES = ("moviepy", "imageio")
"""Packages that ``wandb.Video`` needs to encode frame arrays (``pip install wandb[media]``)."""


def wandb_installed() -> bool:
    return importlib.util.find_spec("wandb") is not None


def has_wandb_credentials() -> bool:
    """Return True if an API key is configured, without contacting any host.

    Looks at ``WANDB_API_KEY``, ``WANDB_IDENTITY_TOKEN_FILE`` and the ``.netrc`` file
    (``NETRC`` or ``~/.netrc``) entry for the host of ``WANDB_BASE_URL``.
    """
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", DEFAULT_BASE_URL)).hostname
    if not host:
        return False
    try:
        entries = netrc.netrc(os.environ.get("NETRC"))
    except (OSError, netrc.NetrcParseError):
        return False
    return entries.authenticators(host) is not None


def resolve_wandb_mode(requested: str | None = None) -> WandbMode:
    """Return the wandb mode to run with.

    Args:
        requested: ``"off"``, ``"offline"`` or ``"online"``; None (or ``"auto"``) follows
            ``WANDB_MODE`` when it is set to a wandb mode, else ``"offline"``, as
            ``rl_memory.training.hooks.resolve_wandb_mode`` does for ``rl-memory train``.

    Returns:
        ``"off"`` if wandb is not installed; ``"offline"`` in place of ``"online"`` when no
        credentials are configured (with a warning); else the requested mode.

    Raises:
        ValueError: ``requested`` is not a known mode.
    """
    from rl_memory.training.hooks import resolve_wandb_mode as resolve_requested

    if requested is not None and requested not in (*WANDB_MODES, "auto"):
        raise ValueError(
            f"wandb mode {requested!r} is invalid: use one of {', '.join(WANDB_MODES)}."
        )
    mode = resolve_requested(requested or "auto")
    if mode != "off" and not wandb_installed():
        logger.info("wandb is not installed, so no wandb run is written (pip install wandb).")
        return "off"
    if mode == "online" and not has_wandb_credentials():
        warnings.warn(
            "wandb online mode was requested but no credentials are configured "
            "(WANDB_API_KEY or `wandb login`); writing an offline run instead. Upload it "
            "later with `wandb sync`.",
            stacklevel=2,
        )
        return "offline"
    return mode


def init_wandb(
    mode: WandbMode,
    run_dir: str | Path,
    config: Mapping[str, Any] | None = None,
    *,
    project: str = "rl-memory",
    name: str | None = None,
    group: str | None = None,
    tags: list[str] | None = None,
) -> WandbOutput | None:
    """Start a wandb run whose files live in ``<run_dir>/wandb``.

    Any run still open in this process is finished first, so that a second training in the
    same process gets its own run. In offline mode, error reporting and system metrics are
    off, so nothing leaves the machine.

    Args:
        mode: from ``resolve_wandb_mode``.
        run_dir: the run folder; created if missing.
        config: the resolved run configuration, stored as the run's config.
        project, name, group, tags: passed to ``wandb.init``.

    Returns:
        The run wrapped in ``WandbOutput``, or None if ``mode`` is ``"off"`` or start-up
        failed (which logs one warning).
    """
    if mode == "off":
        return None
    if mode not in WANDB_MODES:
        raise ValueError(f"wandb mode {mode!r} is invalid: use one of {', '.join(WANDB_MODES)}.")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if mode == "offline":
        # Read by wandb when it starts its service process: no crash reports to any host.
        os.environ["WANDB_ERROR_REPORTING"] = "false"
    else:
        os.environ.setdefault("WANDB_ERROR_REPORTING", "false")
    try:
        import wandb

        settings = wandb.Settings(
            console="off",
            save_code=False,
            x_disable_stats=True,  # its sampler's defaults name a cloud metadata address
            x_disable_machine_info=True,
            silent=True,
        )
        run = wandb.init(
            mode=mode,
            dir=str(run_dir),
            project=project,
            name=name,
            group=group,
            tags=tags,
            config=dict(config) if config is not None else None,
            reinit="finish_previous",
            settings=settings,
        )
    except Exception as error:  # wandb raises many types; none may stop training
        warnings.warn(
            f"wandb failed to start ({error}); training goes on without wandb.", stacklevel=2
        )
        return None
    logger.info("wandb %s run written to %s", mode, run.dir)
    return WandbOutput(run, mode)


class WandbOutput:
    """A wandb run that turns every failure into one warning and stops logging after it."""

    def __init__(self, run: Any, mode: WandbMode) -> None:
        self.run = run
        self.mode = mode
        self.failed = False
        self._skipped_video = False

    def log(self, data: Mapping[str, Any], step: int) -> None:
        """Log ``data`` at ``step`` (env steps); after a failure or ``finish``, do nothing."""
        if self.failed or self.run is None or not data:
            return
        try:
            self.run.log(dict(data), step=int(step))
        except Exception as error:  # wandb raises many types; none may stop training
            self.fail(error)

    def finish(self) -> None:
        if self.run is None:
            return
        try:
            self.run.finish()
        except Exception as error:
            self.fail(error)
        self.run = None

    def fail(self, error: Exception) -> None:
        """Warn once about ``error`` and drop every later call."""
        if not self.failed:
            warnings.warn(
                f"wandb logging failed ({error!r}); training goes on and this run logs "
                "nothing more to wandb.",
                stacklevel=3,
            )
        self.failed = True

    def video_encoders_available(self) -> bool:
        """Return True if ``wandb.Video`` can encode arrays; log once (info) if it cannot."""
        missing = [name for name in MEDIA_PACKAGES if importlib.util.find_spec(name) is None]
        if missing and not self._skipped_video:
            logger.info(
                "Episode videos are skipped: wandb.Video needs %s (pip install 'wandb[media]').",
                " and ".join(missing),
            )
            self._skipped_video = True
        return not missing


class WandbWriter(KVWriter):
    """SB3 ``KVWriter`` that sends the logger's scalars to wandb with ``step=global_step``.

    SB3 calls ``write`` at every ``logger.dump(num_timesteps)``. Keys recorded with
    ``exclude=("wandb", ...)`` are skipped, and so are values wandb has no scalar form for
    (SB3 ``Image``, ``Figure``, ``Video`` and arrays, which this package logs separately).
    """

    def __init__(self, output: WandbOutput) -> None:
        self.output = output

    def write(
        self,
        key_values: dict[str, Any],
        key_excluded: dict[str, tuple[str, ...]],
        step: int = 0,
    ) -> None:
        scalars: dict[str, Any] = {}
        for key, value in key_values.items():
            excluded = key_excluded.get(key)
            if excluded is not None and "wandb" in excluded:
                continue
            scalar = _as_scalar(value)
            if scalar is not None:
                scalars[key] = scalar
        self.output.log(scalars, step)

    def close(self) -> None:
        """Leave the run open: its owner (``WandbCallback`` or the caller) finishes it."""


def _as_scalar(value: Any) -> float | int | str | None:
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "numel") and value.numel() == 1:  # a one-element torch tensor
        return value.item()
    if isinstance(value, np.ndarray) and value.size == 1:
        return value.item()
    return None


MAX_TABLE_ROWS = 10_000
"""wandb truncates logged tables to this many rows (``wandb.Table.MAX_ROWS``)."""
MAX_TABLE_FRAMES = 300
"""Episodes up to this length get a frame image in every table row."""


def log_episode(
    output: WandbOutput,
    trace: EpisodeTrace,
    images: Mapping[str, np.ndarray],
    step: int,
    prefix: str = "memory",
    video_fps: int = 4,
) -> None:
    """Log one recorded episode: figures as images, the per-step trace as a table, a video.

    Args:
        output: the run; nothing is logged after it failed.
        trace: the episode.
        images: name -> RGB array [h, w, 3] uint8 of each figure.
        step: env steps of training (the x axis of every wandb chart here).
        prefix: key prefix, e.g. ``memory`` gives ``memory/memory_timeline``.
        video_fps: frames per second of the episode video.
    """
    if output.failed:
        return
    try:
        import wandb

        caption = f"{trace.env_id}, {trace.length} steps, step {step:,} of training"
        data: dict[str, Any] = {
            f"{prefix}/{name}": wandb.Image(image, caption=caption)
            for name, image in images.items()
        }
        names, rows = trace_table(trace)
        columns: list[str | int] = [*names]
        if trace.frames is not None and trace.length <= MAX_TABLE_FRAMES:
            columns.append("frame")
            rows = [
                [*row, wandb.Image(frame)] for row, frame in zip(rows, trace.frames, strict=True)
            ]
        stride = -(-len(rows) // MAX_TABLE_ROWS)  # keep every stride-th row of long episodes
        data[f"{prefix}/episode_trace"] = wandb.Table(
            columns=list[str | int](columns), data=rows[::stride]
        )
        video = trace_video(trace)
        if video is not None and output.video_encoders_available():
            data[f"{prefix}/episode_video"] = wandb.Video(video, fps=video_fps, format="gif")
    except Exception as error:  # wandb raises many types; none may stop training
        output.fail(error)
        return
    output.log(data, step)
