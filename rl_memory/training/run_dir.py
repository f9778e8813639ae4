"""The run folder: one per training run, holding everything needed to inspect or resume it.

Layout::

    RUN_DIR/
      config.yaml              resolved RunConfig of the run
      checkpoints/latest.zip   the most recent agent (also written at the end)
      checkpoints/best.zip     the agent with the best evaluation success so far
      metrics.csv              one row per progress line, columns are metric names
      tensorboard/             tensorboard event files
      eval.json                final evaluation of the trained agent
      evals/                   results of later ``rl-memory eval`` runs, one file each
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rl_memory.config import RunConfig, dump_config, load_config
from rl_memory.training.errors import RunDirError
from rl_memory.training.files import atomic_write_text, unique_path

CONFIG_FILE = "config.yaml"
CHECKPOINTS_DIR = "checkpoints"
LATEST_CHECKPOINT = "latest.zip"
BEST_CHECKPOINT = "best.zip"
METRICS_FILE = "metrics.csv"
TENSORBOARD_DIR = "tensorboard"
EVAL_FILE = "eval.json"
EVALS_DIR = "evals"


@dataclass(frozen=True)
class RunDirectory:
    """Paths of one run folder and the few operations on it."""

    path: Path

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / CHECKPOINTS_DIR

    @property
    def latest_checkpoint(self) -> Path:
        return self.checkpoints_dir / LATEST_CHECKPOINT

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints_dir / BEST_CHECKPOINT

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / TENSORBOARD_DIR

    @property
    def eval_path(self) -> Path:
        return self.path / EVAL_FILE

    @classmethod
    def check_new(cls, path: Path) -> RunDirectory:
        """Return the run folder for a new run, without creating it.

        Raises:
            RunDirError: If ``path`` is a file, or a folder that is not empty.
        """
        if path.exists() and not path.is_dir():
            raise RunDirError(f"run folder {path} is an existing file; choose another --run-dir")
        if path.is_dir() and any(path.iterdir()):
            raise RunDirError(
                f"run folder {path} already exists and is not empty; continue it with "
                f"--resume {path}, or choose another --run-dir"
            )
        return cls(path)

    @classmethod
    def open_existing(cls, path: Path) -> RunDirectory:
        """Return an existing run folder that contains a config and a latest checkpoint.

        Raises:
            RunDirError: If the folder, its config.yaml or checkpoints/latest.zip is missing.
        """
        run = cls(path)
        if not path.is_dir():
            raise RunDirError(f"run folder not found: {path}; pass the folder of an earlier run")
        for required in (run.config_path, run.latest_checkpoint):
            if not required.is_file():
                raise RunDirError(
                    f"{path} is not a resumable run folder: {required.relative_to(path)} is "
                    "missing; pass the folder that `rl-memory train` created"
                )
        return run

    def create(self, config: RunConfig) -> None:
        """Create the folder and write the resolved configuration into it."""
        self.checkpoints_dir.mkdir(parents=True, exist_ok=True)
        self.write_config(config)

    def write_config(self, config: RunConfig) -> None:
        atomic_write_text(self.config_path, dump_config(config))

    def read_config(self) -> RunConfig:
        return load_config(self.config_path)

    def write_eval(self, result: dict[str, Any]) -> Path:
        """Write the final evaluation of the training run as eval.json."""
        atomic_write_text(self.eval_path, json.dumps(result, indent=2) + "\n")
        return self.eval_path

    def new_eval_path(self, env_id: str, now: datetime | None = None) -> Path:
        """Return a path under evals/ that no earlier evaluation used."""
        stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
        return unique_path(self.path / EVALS_DIR / f"eval-{env_slug(env_id)}-{stamp}.json")


def env_slug(env_id: str) -> str:
    """Return a file-name-safe short name of an env id, e.g. ``Corridor-v0``."""
    name = env_id.split(":")[-1]
    name = name.removeprefix("rl_memory/")
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "env"


def default_run_dir(
    root: Path, env_name: str, memory_kind: str, now: datetime | None = None
) -> Path:
    """Return ``root/<env>-<memory>-<YYYYmmdd-HHMMSS>``, with a suffix if that folder exists."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = f"{env_slug(env_name)}-{memory_kind}-{stamp}"
    candidate = root / base
    counter = 2
    while candidate.exists():
        candidate = root / f"{base}-{counter}"
        counter += 1
    return candidate
