"""Settings for the whole test suite: no network, one torch thread, no real displays."""

from __future__ import annotations

import os

# wandb must never reach a host from the tests: offline runs, no error reporting, and a
# reserved domain as a tripwire for any request that slips through.
os.environ.setdefault("WANDB_MODE", "offline")
os.environ["WANDB_ERROR_REPORTING"] = "false"
os.environ["WANDB_SILENT"] = "true"
os.environ["WANDB_BASE_URL"] = "https://invalid"
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")
