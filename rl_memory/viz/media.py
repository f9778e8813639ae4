"""Conversions from traces and figures to the arrays, tables and files that loggers take.

Nothing here imports wandb or tensorboard, so the run folder gets the same figures with
either logger off.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rl_memory.viz.figures import plot_memory_timeline, plot_recall_memory, plot_spans
from rl_memory.viz.trace import EpisodeTrace

FIGURE_DPI = 100
FIGURE_NAMES = ("memory_timeline", "spans", "recall_memory")
"""File stems of the three figures of an episode, in the order reports show them."""


def episode_figures(trace: EpisodeTrace, top_k: int = 8) -> dict[str, Figure]:
    """Return the three figures of an episode, keyed by ``FIGURE_NAMES``.

    Traces without memory layers (a policy without per-memory diagnostics) get none.
    """
    if not trace.layers:
        return {}
    return {
        "memory_timeline": plot_memory_timeline(trace),
        "spans": plot_spans(trace),
        "recall_memory": plot_recall_memory(trace, top_k=top_k),
    }


def figure_to_array(fig: Figure, dpi: int = FIGURE_DPI) -> np.ndarray:
    """Render ``fig`` to an RGB array [h, w, 3] uint8."""
    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def figure_to_png(fig: Figure, dpi: int = FIGURE_DPI) -> bytes:
    """Render ``fig`` to PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def save_png(image: np.ndarray, path: str | Path) -> Path:
    """Write an RGB array [h, w, 3] uint8 to ``path`` as PNG and return the path."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, format="PNG")
    return path


TABLE_COLUMNS_BASE = ("step", "action", "reward", "cue_shown", "recall_needed")


def trace_table(trace: EpisodeTrace) -> tuple[list[str], list[list[Any]]]:
    """Return one row per step: the task's key steps and, per layer, what the memory held.

    Per layer ``l`` the columns are ``span/layer{l}`` (span predicted for the frame),
    ``retained/layer{l}`` (memories the query attended), ``cue_in_memory/layer{l}`` (a cue
    frame had a mask above 0), ``cue_attention/layer{l}`` (head-averaged attention on cue
    frames) and ``top_memory/layer{l}`` (step of the most attended memory).
    """
    columns = list(TABLE_COLUMNS_BASE)
    for index in range(trace.n_layers):
        columns += [
            f"span/layer{index}",
            f"retained/layer{index}",
            f"cue_in_memory/layer{index}",
            f"cue_attention/layer{index}",
            f"top_memory/layer{index}",
        ]
    cues = np.asarray(trace.cue_steps, dtype=np.int64)
    rows: list[list[Any]] = []
    for step in range(trace.length):
        row: list[Any] = [
            step,
            _plain(trace.actions[step]),
            trace.rewards[step],
            step in trace.cue_steps,
            step == trace.recall_step,
        ]
        for index, layer in enumerate(trace.layers):
            memory_step = layer.memory_step[step]
            weights = layer.mean_attention(step)
            is_cue = np.isin(memory_step, cues)
            span = layer.span[step]
            row += [
                None if np.isnan(span) else span,
                len(memory_step),
                trace.cue_in_memory(step, index),
                None if weights is None else float(weights[is_cue].sum()),
                None if weights is None or not len(weights) else int(memory_step[weights.argmax()]),
            ]
        rows.append(row)
    return columns, rows


def write_trace_csv(trace: EpisodeTrace, path: str | Path) -> Path:
    """Write the per-step table of ``trace`` (see ``trace_table``) as CSV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns, rows = trace_table(trace)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def _plain(action: Any) -> Any:
    array = np.asarray(action)
    return array.item() if array.size == 1 else array.tolist()


def trace_video(trace: EpisodeTrace) -> np.ndarray | None:
    """Return the episode's frames as [T, 3, h, w] uint8 (channels first, as wandb.Video takes)."""
    if not trace.frames:
        return None
    return np.stack(trace.frames).transpose(0, 3, 1, 2)
