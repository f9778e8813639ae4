"""Figures, metrics and logging that show what an agent keeps in memory.

- ``trace``: record an episode with the memory's diagnostics (``EpisodeTrace``);
- ``figures``: the memory timeline, span and recall figures of one trace;
- ``metrics``: ``memory/cue_retained`` and other scalars from traces;
- ``wandb_logger``, ``tensorboard``, ``callbacks``: output to wandb, tensorboard and the run
  folder during training;
- ``report``: the self-contained HTML report of ``rl-memory visualize``.
"""

from rl_memory.viz.figures import plot_memory_timeline, plot_recall_memory, plot_spans
from rl_memory.viz.metrics import cue_retained, memory_metrics
from rl_memory.viz.trace import EpisodeTrace, LayerTrace, PolicyStep, record_episode

__all__ = [
    "EpisodeTrace",
    "LayerTrace",
    "PolicyStep",
    "cue_retained",
    "memory_metrics",
    "plot_memory_timeline",
    "plot_recall_memory",
    "plot_spans",
    "record_episode",
]
