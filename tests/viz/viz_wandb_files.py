"""Read the history of an offline wandb run from its ``.wandb`` transaction log.

wandb 0.31 has no Python reader for these files; its ``wandb leet inspect --json`` command
prints one JSON object per record, and history records carry the logged keys.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def offline_run_file(run_dir: Path) -> Path:
    """Return the single ``run-*.wandb`` file under ``<run_dir>/wandb/offline-run-*``."""
    files = sorted(run_dir.glob("wandb/offline-run-*/run-*.wandb"))
    assert len(files) == 1, f"expected one offline run under {run_dir}, found {files}"
    return files[0]


def read_history(run_file: Path) -> list[dict[str, Any]]:
    """Return the items of every history record, in order."""
    result = subprocess.run(
        [sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(run_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    history = []
    for line in result.stdout.splitlines():
        record = json.loads(line)
        if record.get("type") == "history":
            history.append(record["history"]["item"])
    return history
