from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.figure import Figure
from viz_synthetic import synthetic_trace

from rl_memory.viz.figures import (
    plot_memory_timeline,
    plot_recall_memory,
    plot_spans,
    select_thumbnails,
    timeline_image,
)
from rl_memory.viz.trace import EpisodeTrace, LayerTrace


def _png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=50)
    return buffer.getvalue()


def _texts(fig: Figure) -> str:
    return " ".join(text.get_text() for text in fig.findobj(lambda a: hasattr(a, "get_text")))


def test_timeline_image_exact_cells():
    layer = LayerTrace(
        memory_step=[np.array([0]), np.array([0, 1]), np.array([1, 2])],
        mask=[np.array([1.0]), np.array([0.5, 1.0]), np.array([1.0, 1.0])],
    )
    image = timeline_image(layer)
    expected = np.array([[1.0, np.nan, np.nan], [0.5, 1.0, np.nan], [0.0, 1.0, 1.0]])
    np.testing.assert_allclose(image, expected)


def test_timeline_image_without_self_attention():
    # The current frame is not a memory here: the diagonal is "not observed", not "expired".
    layer = LayerTrace(
        memory_step=[np.array([], dtype=np.int64), np.array([0])],
        mask=[np.array([]), np.array([1.0])],
    )
    image = timeline_image(layer)
    assert np.isnan(image[0, 0])
    assert np.isnan(image[1, 1])
    assert image[1, 0] == 1.0


def test_timeline_image_bins_long_episodes():
    trace = synthetic_trace(length=1200, frames=False, corridor_span=30)
    image = timeline_image(trace.layers[0], max_pixels=300)
    assert image.shape == (300, 300)
    assert np.nanmax(image) <= 1.0
    assert np.nanmin(image) >= 0.0
    # Pixels hold 4 x 4 steps: in the last row, the cue (step 0) of steps 0-3 is kept.
    assert image[-1, 0] == 1.0
    assert image[-1, 150] == 0.0  # a middle frame has expired by the end
    assert np.isnan(image[0, -1])


def test_timeline_figure_marks_key_steps():
    fig = plot_memory_timeline(synthetic_trace(length=30, cue_steps=(0, 1), n_layers=2))
    text = _texts(fig)
    assert "cue frame (steps 0–1)" in text
    assert "recall needed (step 29)" in text
    assert "cue at the recall step: in memory" in text
    assert "query step t" in text
    assert "0 expired" in text
    assert len(_png_bytes(fig)) > 1000


def test_timeline_figure_reports_expired_cue():
    trace = synthetic_trace(length=30, cue_span=5.0)
    text = _texts(plot_memory_timeline(trace))
    assert "cue at the recall step: expired" in text


@pytest.mark.parametrize("length", [20, 2500])
def test_figures_render_for_short_and_long_episodes(length):
    trace = synthetic_trace(length=length, cue_steps=(0, 1, 2), corridor_span=length / 40)
    for fig in (plot_memory_timeline(trace), plot_spans(trace), plot_recall_memory(trace)):
        assert fig.get_suptitle() or fig.axes[0].get_title()
        assert _png_bytes(fig).startswith(b"\x89PNG")


def test_spans_figure_shows_needed_span():
    text = _texts(plot_spans(synthetic_trace(length=30)))
    assert "span needed to reach the recall step: 29 − i" in text
    assert "reaches the recall step fading (ramp R = 4)" in text
    assert "predicted span $e_i$ (steps)" in text


def test_spans_figure_bins_long_episodes():
    text = _texts(plot_spans(synthetic_trace(length=1000, frames=False)))
    assert "span $e_i$, layer 0 (mean; band: min to max over 3 frames)" in text


def test_spans_figure_without_spans():
    trace = synthetic_trace(length=10)
    trace.memory_kind = "transformer-xl"
    for layer in trace.layers:
        layer.span = [float("nan")] * trace.length
    assert "transformer-xl predicts no spans" in _texts(plot_spans(trace))


def test_recall_figure_shows_cue_thumbnails():
    trace = synthetic_trace(length=40, cue_steps=(0,))
    attention = trace.layers[0].attention[39]
    assert attention is not None
    attention[:, 0] = 0.0  # the cue is the least attended memory, yet still shown
    fig = plot_recall_memory(trace, top_k=4)
    text = _texts(fig)
    assert "step 0 (cue)" in text
    assert "Frames in memory at the recall step 39" in text
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 5  # top 4 plus the cue frame


def test_recall_figure_without_frames_or_recall():
    trace = synthetic_trace(length=30, frames=False)
    trace.recall_step = -1
    fig = plot_recall_memory(trace)
    assert "last step 29 (no recall step)" in fig.get_suptitle()
    assert not any(ax.images for ax in fig.axes)


def test_figures_reject_trace_without_layers():
    with pytest.raises(ValueError, match="no memory layers"):
        plot_memory_timeline(EpisodeTrace(env_id="x", actions=[0]))


def test_select_thumbnails_sorted_by_step_with_cues():
    steps = np.array([0, 5, 6, 7, 8])
    weights = np.array([0.01, 0.5, 0.1, 0.3, 0.09])
    chosen = select_thumbnails(steps, weights, cue_steps=(0,), top_k=2)
    np.testing.assert_array_equal(steps[chosen], [0, 5, 7])
