"""Figures of what an agent kept in memory during one episode (matplotlib).

- ``plot_memory_timeline``: per layer, which frames (memory step) each query (query step)
  could still attend to, coloured by the Expire-Span mask m_ti;
- ``plot_spans``: the span e_i predicted for every frame, against the span that a frame
  needs to still be in memory at the recall step;
- ``plot_recall_memory``: at the recall step, the frames still in memory as thumbnails with
  the attention weight the query gave each.

Every function takes an ``EpisodeTrace`` and returns a ``matplotlib.figure.Figure`` built
without pyplot, so no GUI backend is needed or changed, and figures are freed with the
object (``fig.savefig`` renders with Agg).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator

from rl_memory.viz.trace import EpisodeTrace, LayerTrace

CUE_COLOUR = "#ff7f0e"
RECALL_COLOUR = "#d62728"
LAYER_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#7f7f7f")
# NaN cells (memory step > query step) are transparent, so the hatched background shows.
MASK_CMAP = LinearSegmentedColormap.from_list(
    "mask", ["#ffffff", "#6baed6", "#08306b"]
).with_extremes(bad=(0.0, 0.0, 0.0, 0.0))

MAX_TIMELINE_PIXELS = 500
"""The timeline image has at most this many rows and columns; longer episodes are binned."""


def _cue_runs(cue_steps: Sequence[int]) -> list[tuple[int, int]]:
    """Group cue steps into runs of consecutive steps: (0, 1, 2, 7) -> [(0, 2), (7, 7)]."""
    runs: list[tuple[int, int]] = []
    for step in sorted(set(cue_steps)):
        if runs and step == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], step)
        else:
            runs.append((step, step))
    return runs


def _steps_label(runs: list[tuple[int, int]]) -> str:
    parts = [str(a) if a == b else f"{a}–{b}" for a, b in runs]
    shown = ", ".join(parts[:3]) + (", …" if len(parts) > 3 else "")
    return f"step{'s' if len(parts) > 1 or runs[0][0] != runs[0][1] else ''} {shown}"


def _mark_cue_columns(ax: Axes, trace: EpisodeTrace) -> Patch | None:
    """Shade the memory steps at which the cue was visible; return the legend entry."""
    runs = _cue_runs(trace.cue_steps)
    if not runs:
        return None
    for start, end in runs:
        ax.axvspan(start - 0.5, end + 0.5, color=CUE_COLOUR, alpha=0.35, lw=0)
        ax.axvline((start + end) / 2, color=CUE_COLOUR, lw=1.0, ls=":")
    return Patch(color=CUE_COLOUR, alpha=0.6, label=f"cue shown ({_steps_label(runs)})")


def timeline_image(layer: LayerTrace, max_pixels: int = MAX_TIMELINE_PIXELS) -> np.ndarray:
    """Bin a layer's masks into a [query step, memory step] image of at most ``max_pixels``².

    Cell (t, j) is the mask of memory j for the query of step t: 0 where memory j was
    expired or deleted, NaN where j > t (not observed yet). The current frame counts as a
    memory only if the query attended to it. A binned pixel holds the maximum over the
    observed cells of its bin, so that a band of memories narrower than a pixel stays dark
    instead of fading into the white of expired cells.

    Args:
        layer: one layer of a trace with T steps.
        max_pixels: maximum rows and columns of the image.

    Returns:
        [ceil(T / b), ceil(T / b)] float image, where b = ceil(T / max_pixels) is the bin
        size in steps (recover it as ``ceil(T / image.shape[0])``).
    """
    length = len(layer.memory_step)
    bin_size = max(1, math.ceil(length / max_pixels))
    n_bins = math.ceil(length / bin_size)
    maxima = np.zeros((n_bins, n_bins))
    observed = np.zeros((n_bins, n_bins), dtype=bool)
    bin_start = np.arange(n_bins) * bin_size
    for t in range(length):
        row = t // bin_size
        steps, mask = layer.memory_step[t], layer.mask[t]
        np.maximum.at(maxima[row], steps // bin_size, mask)
        observed[row] |= bin_start < t  # the bin holds some memory j < t
        if np.any(steps == t):
            observed[row, t // bin_size] = True
    return np.where(observed, maxima, np.nan)


def _runs(values: np.ndarray) -> list[tuple[int, int]]:
    """Return the runs of consecutive integers in sorted ``values`` as (first, last) pairs."""
    if len(values) == 0:
        return []
    breaks = np.flatnonzero(np.diff(values) != 1)
    starts = np.concatenate(([values[0]], values[breaks + 1]))
    ends = np.concatenate((values[breaks], [values[-1]]))
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _draw_cue_retention(ax: Axes, trace: EpisodeTrace, layer_index: int) -> list:
    """Draw each cue frame's column: solid over the queries that still had it in memory.

    A one-step column is a fraction of a pixel wide in long episodes, so the column is drawn
    as a line of fixed width on top of the image instead of relying on the image alone.
    """
    layer = trace.layers[layer_index]
    handles: list = []
    for cue in sorted(set(trace.cue_steps)):
        if cue >= trace.length:
            continue
        rows = [
            t for t in range(cue, trace.length) if cue in layer.memory_step[t][layer.mask[t] > 0]
        ]
        ax.vlines(cue, cue - 0.5, trace.length - 0.5, color=CUE_COLOUR, lw=1.0, ls=":", zorder=3)
        for first, last in _runs(np.asarray(rows, dtype=np.int64)):
            ax.vlines(cue, first - 0.5, last + 0.5, color=CUE_COLOUR, lw=3.0, zorder=3)
        ax.plot(cue, -0.5, marker="v", ms=9, color=CUE_COLOUR, clip_on=False, zorder=4)
    runs = _cue_runs(trace.cue_steps)
    if runs:
        label = f"cue frame ({_steps_label(runs)}): solid while in memory"
        handles.append(Line2D([], [], color=CUE_COLOUR, lw=3.0, marker="v", label=label))
    return handles


def _draw_recall_row(ax: Axes, trace: EpisodeTrace, layer_index: int) -> list:
    recall = trace.recall_step
    ax.axhline(recall, color=RECALL_COLOUR, lw=1.2, ls="--", zorder=3)
    ax.plot(-0.5, recall, marker=">", ms=9, color=RECALL_COLOUR, clip_on=False, zorder=4)
    kept = trace.cue_in_memory(recall, layer_index)
    for start, _ in _cue_runs(trace.cue_steps):
        ax.plot(start, recall, marker="o", ms=12, mfc="none", mec=RECALL_COLOUR, mew=2, zorder=5)
    outcome = "in memory" if kept else "expired"
    return [
        Line2D(
            [], [], color=RECALL_COLOUR, ls="--", marker=">", label=f"recall needed (step {recall})"
        ),
        Line2D(
            [],
            [],
            marker="o",
            ms=9,
            mfc="none",
            mec=RECALL_COLOUR,
            mew=2,
            ls="",
            label=f"cue at the recall step: {outcome}",
        ),
    ]


def _draw_timeline(
    ax: Axes, trace: EpisodeTrace, layer_index: int, max_pixels: int
) -> tuple[AxesImage, int]:
    image = timeline_image(trace.layers[layer_index], max_pixels)
    bin_size = max(1, math.ceil(trace.length / image.shape[0]))
    edge = image.shape[0] * bin_size - 0.5
    background = Rectangle(
        (-0.5, -0.5),
        edge + 0.5,
        edge + 0.5,
        facecolor="#f4f4f4",
        edgecolor="#c8c8c8",
        hatch="///",
        lw=0,
        zorder=0,
    )
    ax.add_patch(background)
    artist = ax.imshow(
        image,
        cmap=MASK_CMAP,
        vmin=0.0,
        vmax=1.0,
        interpolation="nearest",
        extent=(-0.5, edge, edge, -0.5),
        aspect="auto",
        zorder=1,
    )
    handles = _draw_cue_retention(ax, trace, layer_index)
    if trace.has_recall:
        handles += _draw_recall_row(ax, trace, layer_index)
    handles.append(
        Patch(
            facecolor="#f4f4f4", edgecolor="#c8c8c8", hatch="///", label="not observed yet (j > t)"
        )
    )
    ax.set_xlim(-0.5, trace.length - 0.5)
    ax.set_ylim(trace.length - 0.5, -0.5)
    _integer_ticks(ax, "both")
    ax.set_xlabel("memory step j (frame attended)")
    ax.set_ylabel("query step t")
    binned = f", {bin_size} × {bin_size} steps per pixel" if bin_size > 1 else ""
    ax.set_title(f"layer {layer_index}{binned}", fontsize=10)
    ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.9)
    return artist, bin_size


def plot_memory_timeline(trace: EpisodeTrace, max_pixels: int = MAX_TIMELINE_PIXELS) -> Figure:
    """Plot, per layer, the mask of every memory (x) for every query step (y).

    A dark row segment shows the frames that query could still attend to; the white
    triangle below the diagonal shows expired (deleted) memories. Episodes longer than
    ``max_pixels`` steps are shown binned, each pixel the maximum mask of its bin.
    """
    _require_layers(trace)
    n_layers = trace.n_layers
    n_cols = min(n_layers, 2)
    n_rows = math.ceil(n_layers / n_cols)
    fig = Figure(figsize=(6.4 * n_cols + 0.8, 6.0 * n_rows + 0.6), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    drawn = [_draw_timeline(axes[i], trace, i, max_pixels) for i in range(n_layers)]
    artist, bin_size = drawn[0]
    for ax in axes[n_layers:]:
        ax.set_visible(False)
    label = "mask $m_{ti}$ (0 = expired, 1 = kept)"
    if bin_size > 1:
        label += "\nmaximum over the steps of a pixel"
    bar = fig.colorbar(artist, ax=list(axes[:n_layers]), shrink=0.8, pad=0.02)
    bar.set_label(label)
    bar.set_ticks([0.0, 0.5, 1.0], labels=["0 expired", "0.5 on ramp", "1 kept"])
    fig.suptitle(f"Memory timeline: {_episode_title(trace)}", fontsize=12)
    return fig


def _integer_ticks(ax: Axes, which: str) -> None:
    """Put ticks on whole steps only (short episodes otherwise get 2.5, 7.5, ...)."""
    if which in ("x", "both"):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if which in ("y", "both"):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _require_layers(trace: EpisodeTrace) -> None:
    if not trace.layers:
        raise ValueError(
            f"the {trace.env_id!r} trace has no memory layers to plot: record it with a "
            "policy whose memory returns per-memory diagnostics (memory kind other than 'none')"
        )


def _episode_title(trace: EpisodeTrace) -> str:
    outcome = ""
    if trace.recall_step >= 0 and trace.recall_correct is not None:
        outcome = ", recall correct" if trace.recall_correct else ", recall wrong"
    elif trace.cue_steps and trace.recall_step < 0:
        outcome = ", recall step not reached"
    name = trace.env_id or "episode"
    return f"{name}, {trace.length} steps{outcome}"


MAX_SPAN_POINTS = 400
"""Longer episodes show spans binned: the mean per bin and a band from its min to its max."""


def _draw_span_lines(ax: Axes, trace: EpisodeTrace) -> tuple[list, float]:
    """Plot each layer's spans with the cue frames as dots; return handles and the top span."""
    cues = [c for c in sorted(set(trace.cue_steps)) if c < trace.length]
    bin_size = max(1, math.ceil(trace.length / MAX_SPAN_POINTS))
    handles: list = []
    top = 0.0
    for index, layer in enumerate(trace.layers):
        spans = layer.spans()
        if np.all(np.isnan(spans)):
            continue
        colour = LAYER_COLOURS[index % len(LAYER_COLOURS)]
        label = f"span $e_i$, layer {index}"
        if bin_size == 1:
            marker = "." if trace.length <= 200 else None
            handles += ax.plot(spans, color=colour, lw=1.2, label=label, marker=marker, ms=4)
        else:
            handles += _draw_binned_spans(ax, spans, bin_size, colour, label)
        ax.plot(cues, spans[cues], ls="", marker="o", ms=8, mfc=CUE_COLOUR, mec=colour, mew=1.5)
        top = max(top, float(np.nanmax(spans)))
    return handles, top


def _draw_binned_spans(ax: Axes, spans: np.ndarray, bin_size: int, colour: str, label: str) -> list:
    """Draw the mean span of each bin of ``bin_size`` frames and a min-max band around it."""
    n_bins = math.ceil(len(spans) / bin_size)
    padded = np.full(n_bins * bin_size, np.nan)
    padded[: len(spans)] = spans
    binned = padded.reshape(n_bins, bin_size)  # [bins, frames per bin]
    centres = np.arange(n_bins) * bin_size + (bin_size - 1) / 2
    with np.errstate(invalid="ignore"):
        low, mean, high = (np.nanmin(binned, 1), np.nanmean(binned, 1), np.nanmax(binned, 1))
    ax.fill_between(centres, low, high, color=colour, alpha=0.25, lw=0)
    label += f" (mean; band: min to max over {bin_size} frames)"
    return ax.plot(centres, mean, color=colour, lw=1.2, label=label)


LOG_SCALE_RATIO = 20.0
"""The span axis is logarithmic when the longest span exceeds the median by this factor."""


def _draw_needed_span(ax: Axes, trace: EpisodeTrace, log_scale: bool) -> list:
    """Draw the span each frame needs to reach the recall step, and the recall step.

    Frame i is fully visible at the recall step r while ``e_i >= r - i`` and fades over the
    next ``ramp`` steps, so a span in ``(r - i - ramp, r - i)`` still reaches r, weakened.
    """
    recall = trace.recall_step
    frames = np.arange(recall if log_scale else recall + 1)  # the log axis cannot show 0
    needed = (recall - frames).astype(float)
    label = f"span needed to reach the recall step: {recall} − i"
    handles: list = ax.plot(frames, needed, color="black", ls="--", lw=1.0, label=label)
    if trace.ramp:
        floor = 0.5 if log_scale else 0.0
        fading = np.maximum(needed - trace.ramp, floor)
        label = f"reaches the recall step fading (ramp R = {trace.ramp:g})"
        handles.append(
            ax.fill_between(frames, fading, needed, color="#999999", alpha=0.2, lw=0, label=label)
        )
    ax.axvline(recall, color=RECALL_COLOUR, lw=1.2, ls="--")
    label = f"recall needed (step {recall})"
    return [*handles, Line2D([], [], color=RECALL_COLOUR, ls="--", label=label)]


def _span_axis_limits(trace: EpisodeTrace, top: float) -> tuple[bool, float, float]:
    """Return (log scale?, bottom, top) of the span axis."""
    spans = np.concatenate([layer.spans() for layer in trace.layers] or [np.zeros(0)])
    spans = spans[np.isfinite(spans) & (spans > 0)]
    if trace.has_recall:
        top = max(top, float(trace.recall_step))
    if len(spans) and top > LOG_SCALE_RATIO * float(np.median(spans)):
        return True, float(spans.min()) / 2, top * 2
    return False, 0.0, 1.15 * max(top, 1.0)


def plot_spans(trace: EpisodeTrace) -> Figure:
    """Plot the span e_i predicted for each frame i, per layer, along the episode.

    The dashed diagonal is the span a frame needs to still be in memory at the recall step
    (recall step - i): frames whose span lies above it were kept until the recall. When a
    few spans (typically the cue's) are far longer than the rest, the span axis is
    logarithmic so that the short spans stay visible.
    """
    fig = Figure(figsize=(9.0, 4.8), layout="constrained")
    ax = fig.subplots()
    span_handles, top = _draw_span_lines(ax, trace)
    log_scale, bottom, top = _span_axis_limits(trace, top)
    handles = list(span_handles)
    cue = _mark_cue_columns(ax, trace)
    if cue is not None:
        handles.append(cue)
    if trace.has_recall:
        handles += _draw_needed_span(ax, trace, log_scale)
    if trace.max_span is not None:
        label = f"maximum span $L_{{max}}$ = {trace.max_span:g}"
        if trace.max_span <= top:
            ax.axhline(trace.max_span, color="#7f7f7f", lw=1.0, ls=":")
        else:
            label += " (above the plot)"
        handles.append(Line2D([], [], color="#7f7f7f", ls=":", label=label))
    if not span_handles:
        kind = trace.memory_kind or "this memory"
        ax.text(
            0.5,
            0.5,
            f"{kind} predicts no spans",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=12,
            color="#555555",
        )
    if log_scale:
        ax.set_yscale("log")
    _integer_ticks(ax, "x")
    ax.set_xlim(-0.5, trace.length - 0.5)
    ax.set_ylim(bottom, top)
    ax.set_xlabel("frame step i")
    ax.set_ylabel(f"predicted span $e_i$ (steps{', log scale' if log_scale else ''})")
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.9)
    ax.set_title(f"Predicted span of each frame: {_episode_title(trace)}", fontsize=11)
    return fig


def recall_query_step(trace: EpisodeTrace) -> int:
    """Return the step whose memory the recall figure shows: the recall step, else the last."""
    return trace.recall_step if trace.has_recall else trace.length - 1


def select_thumbnails(
    memory_step: np.ndarray, weights: np.ndarray, cue_steps: Sequence[int], top_k: int
) -> np.ndarray:
    """Pick the memories to show as thumbnails: the ``top_k`` by weight plus every cue frame.

    Args:
        memory_step: [M] episode steps of the memories.
        weights: [M] attention weights.
        cue_steps: steps at which the cue was visible.
        top_k: number of memories to show besides the cue frames.

    Returns:
        Indices into ``memory_step``, sorted by step.
    """
    order = np.argsort(-weights, kind="stable")[:top_k]
    cues = np.flatnonzero(np.isin(memory_step, np.asarray(cue_steps, dtype=np.int64)))
    chosen = np.union1d(order, cues).astype(np.int64)
    return chosen[np.argsort(memory_step[chosen], kind="stable")]


def _draw_attention_bars(
    ax: Axes,
    trace: EpisodeTrace,
    steps: np.ndarray,
    weights: np.ndarray,
    chosen: np.ndarray,
    query: int,
) -> None:
    """Draw one stem per memory; dots mark the thumbnails below (orange: cue frames)."""
    ax.vlines(steps, 0.0, weights, color=LAYER_COLOURS[0], lw=1.5 if len(steps) < 200 else 0.8)
    is_cue = np.isin(steps, np.asarray(trace.cue_steps, dtype=np.int64))
    shown = np.zeros(len(steps), dtype=bool)
    shown[chosen] = True
    ax.plot(steps[shown & ~is_cue], weights[shown & ~is_cue], "o", ms=5, color=LAYER_COLOURS[0])
    ax.plot(steps[is_cue], weights[is_cue], "o", ms=7, color=CUE_COLOUR, zorder=3)
    _integer_ticks(ax, "x")
    ax.set_xlim(-0.5, query + 0.5)
    ax.set_ylim(0, max(float(weights.max()) * 1.2, 1e-3))
    ax.set_xlabel("memory step j")
    ax.set_ylabel("attention weight\n(mean over heads)")
    ax.grid(axis="y", alpha=0.3)
    handles = [
        Line2D(
            [],
            [],
            color=LAYER_COLOURS[0],
            lw=1.5,
            label=f"memory in the cache ({len(steps)} at step {query})",
        ),
        Line2D([], [], color=LAYER_COLOURS[0], marker="o", ms=5, ls="", label="shown below"),
        Line2D([], [], color=CUE_COLOUR, marker="o", ms=7, ls="", label="cue frame"),
    ]
    ax.legend(handles=handles, loc="upper center", fontsize=8, ncols=3)


def _draw_thumbnails(
    axes: Sequence[Axes],
    trace: EpisodeTrace,
    steps: np.ndarray,
    weights: np.ndarray,
    chosen: np.ndarray,
) -> None:
    assert trace.frames is not None
    for ax, index in zip(axes, chosen, strict=False):
        step = int(steps[index])
        ax.imshow(trace.frames[step], interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        is_cue = step in trace.cue_steps
        ax.set_title(
            f"w = {weights[index]:.3f}\nstep {step}{' (cue)' if is_cue else ''}",
            fontsize=8,
            color=CUE_COLOUR if is_cue else "black",
        )
        for spine in ax.spines.values():
            spine.set_edgecolor(CUE_COLOUR if is_cue else "#999999")
            spine.set_linewidth(3.0 if is_cue else 0.8)
    for ax in axes[len(chosen) :]:
        ax.set_visible(False)


def plot_recall_memory(trace: EpisodeTrace, top_k: int = 8) -> Figure:
    """Show the frames in memory at the recall step with the attention each received.

    Per layer, a stem chart gives the head-averaged attention weight of every memory in the
    cache at the recall step, with cue frames in orange. Below it, thumbnails show the
    ``top_k`` most attended frames and every cue frame still in memory, sorted by step, each
    with its weight above it.
    Without a recall step the last step of the episode is shown.
    """
    _require_layers(trace)
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    query = recall_query_step(trace)
    n_thumbs = top_k + len(trace.cue_steps)
    has_frames = trace.frames is not None
    row_height = 4.4 if has_frames else 2.6
    fig = Figure(
        figsize=(max(9.0, 1.15 * n_thumbs), row_height * trace.n_layers + 0.5), layout="constrained"
    )
    subfigs = fig.subfigures(trace.n_layers, 1, squeeze=False)[:, 0]
    for index, subfig in enumerate(subfigs):
        layer = trace.layers[index]
        steps = layer.memory_step[query]
        weights = layer.mean_attention(query)
        if weights is None:
            weights = layer.mask[query] / max(float(layer.mask[query].sum()), 1e-9)
        subfig.suptitle(f"layer {index}", fontsize=10, x=0.02, ha="left")
        chosen = select_thumbnails(steps, weights, trace.cue_steps, top_k)
        if has_frames and len(steps):
            grid = subfig.add_gridspec(2, n_thumbs, height_ratios=(1.6, 1.0))
            bars = subfig.add_subplot(grid[0, :])
            _draw_attention_bars(bars, trace, steps, weights, chosen, query)
            thumbs = [subfig.add_subplot(grid[1, i]) for i in range(n_thumbs)]
            _draw_thumbnails(thumbs, trace, steps, weights, chosen)
        elif len(steps):
            _draw_attention_bars(subfig.add_subplot(), trace, steps, weights, chosen, query)
        else:
            ax = subfig.add_subplot()
            ax.text(
                0.5,
                0.5,
                f"no memory at step {query}",
                ha="center",
                va="center",
                transform=ax.transAxes,
            )
            ax.set_axis_off()
    where = f"recall step {query}" if trace.has_recall else f"last step {query} (no recall step)"
    fig.suptitle(f"Frames in memory at the {where}: {_episode_title(trace)}", fontsize=12)
    return fig
