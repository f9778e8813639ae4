"""A self-contained HTML report of recorded episodes: one file, images inside, no network.

Every image is a base64 ``data:`` URI and the style sheet is inline, so the file can be
mailed, archived or opened offline and shows the same everywhere. The report has no
scripts and no links to other hosts.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rl_memory.viz.media import FIGURE_NAMES, episode_figures, figure_to_png, write_trace_csv
from rl_memory.viz.metrics import cue_retained, mean_retained
from rl_memory.viz.trace import EpisodeTrace

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #1b1b1b; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
h3 { font-size: 1.05em; margin-bottom: 0.3em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
td, th { border: 1px solid #ddd; padding: 0.25em 0.7em; text-align: left; }
th { background: #f3f3f3; font-weight: 600; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #e4e4e4; }
figcaption { color: #444; font-size: 0.92em; max-width: 60em; }
.muted { color: #666; }
"""

CAPTIONS = {
    "memory_timeline": (
        "Memory timeline. Row t is the query of step t, column j the frame of step j. Dark "
        "cells are memories the query could attend to (mask 1); white cells below the "
        "diagonal are expired and deleted (mask 0); light blue cells are on their ramp. The "
        "orange line marks each cue frame, solid while it is still in memory; the dashed red "
        "line is the step at which the cue had to be recalled."
    ),
    "spans": (
        "Predicted span of each frame. A frame stays fully visible for its span, then fades "
        "over the ramp. The dashed diagonal is the span a frame needs to be fully visible at "
        "the recall step, and frames in the grey band below it arrive there weakened. Cue "
        "frames (orange dots) must lie above the band for the agent to still see the cue "
        "when it has to choose."
    ),
    "recall_memory": (
        "Memory at the recall step. Stems give the attention weight (mean over heads) of every "
        "frame still in memory; the thumbnails show the most attended frames and every cue "
        "frame, as the agent saw them, with their weights."
    ),
}


def png_data_uri(png: bytes) -> str:
    """Return ``png`` as a ``data:image/png;base64,...`` URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _table(rows: Sequence[tuple[str, Any]]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(str(name))}</th><td>{html.escape(_format(value))}</td></tr>"
        for name, value in rows
    )
    return f"<table>{cells}</table>"


def _format(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, (tuple, list)):
        return ", ".join(str(item) for item in value) or "–"
    return str(value)


def summary_rows(traces: Sequence[EpisodeTrace]) -> list[tuple[str, Any]]:
    """Return the report's summary: episodes, success, recall and memory figures."""
    successes = [t.is_success for t in traces if t.is_success is not None]
    rows: list[tuple[str, Any]] = [
        ("episodes", len(traces)),
        ("success rate", float(np.mean(successes)) if successes else None),
        ("mean episode length (steps)", float(np.mean([t.length for t in traces]))),
        ("mean return", float(np.mean([t.episode_return for t in traces]))),
        ("cue in memory at recall (memory/cue_retained)", cue_retained(traces)),
        ("mean memories per query", mean_retained(traces)),
    ]
    return rows


def episode_rows(trace: EpisodeTrace) -> list[tuple[str, Any]]:
    """Return the facts of one episode shown above its figures."""
    rows: list[tuple[str, Any]] = [
        ("steps", trace.length),
        ("return", trace.episode_return),
        ("cue shown at steps", trace.cue_steps),
        ("recall needed at step", trace.recall_step if trace.recall_step >= 0 else None),
        ("recall correct", trace.recall_correct),
    ]
    if trace.has_recall:
        for index in range(trace.n_layers):
            kept = trace.cue_in_memory(trace.recall_step, index)
            rows.append((f"cue in memory at recall, layer {index}", kept))
    return rows


def build_report(
    title: str,
    details: Sequence[tuple[str, Any]],
    traces: Sequence[EpisodeTrace],
    figures: Sequence[Mapping[str, bytes]],
) -> str:
    """Return the HTML text of a report.

    Args:
        title: the page's heading.
        details: (name, value) rows about the agent and the run, shown first.
        traces: the recorded episodes.
        figures: per episode, PNG bytes keyed by figure name (``media.FIGURE_NAMES``).
    """
    if len(figures) != len(traces):
        raise ValueError(
            f"got {len(figures)} figure sets for {len(traces)} episodes; pass one each"
        )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        _table(details),
        "<h2>Summary</h2>",
        _table(summary_rows(traces)),
    ]
    for index, (trace, images) in enumerate(zip(traces, figures, strict=True)):
        parts.append(f"<h2>Episode {index + 1}</h2>")
        parts.append(_table(episode_rows(trace)))
        if not images:
            parts.append('<p class="muted">This agent returned no per-memory diagnostics.</p>')
        for name in FIGURE_NAMES:
            if name not in images:
                continue
            alt = f"episode {index + 1}: {name.replace('_', ' ')}"
            parts.append(
                f'<figure id="episode{index + 1}-{name}"><img alt="{html.escape(alt)}" '
                f'src="{png_data_uri(images[name])}"><figcaption>'
                f"{html.escape(CAPTIONS[name])}</figcaption></figure>"
            )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(
    out_dir: Path,
    title: str,
    details: Sequence[tuple[str, Any]],
    traces: Sequence[EpisodeTrace],
    top_k: int = 8,
) -> Path:
    """Write every episode's figures as PNG files and ``report.html`` into ``out_dir``.

    Files are ``episode<i>_<figure>.png``, ``episode<i>_trace.csv`` and ``report.html``;
    ``out_dir`` is created and must not contain any of them.

    Returns:
        The path of ``report.html``.

    Raises:
        FileExistsError: a file to write already exists (nothing is overwritten).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    report_path = out_dir / "report.html"
    if report_path.exists():
        raise FileExistsError(f"{report_path} already exists; choose another output folder")
    figure_sets: list[dict[str, bytes]] = []
    for index, trace in enumerate(traces, start=1):
        pngs = {name: figure_to_png(fig) for name, fig in episode_figures(trace, top_k).items()}
        for name, png in pngs.items():
            _write_new(out_dir / f"episode{index}_{name}.png", png)
        csv_path = out_dir / f"episode{index}_trace.csv"
        if csv_path.exists():
            raise FileExistsError(f"{csv_path} already exists; choose another output folder")
        write_trace_csv(trace, csv_path)
        figure_sets.append(pngs)
    _write_new(report_path, build_report(title, details, traces, figure_sets).encode("utf-8"))
    return report_path


def _write_new(path: Path, data: bytes) -> None:
    with path.open("xb") as file:  # "x": fail instead of overwriting
        file.write(data)
