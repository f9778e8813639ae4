"""Figures, metrics and logging that show what an agent keeps in memory.

- ``trace``: record an episode with the memory's diagnostics (``EpisodeTrace``);
- ``figures``: the memory timeline, span and recall figures of one trace;
- ``metrics``: ``memory/cue_retained`` and other scalars from traces;
- ``wandb_logger``, ``callbacks``: output to wandb, tensorboard and the run folder during
  training; ``training_hook`` connects them to ``rl-memory train`` on import;
- ``report``: the self-contained HTML report of ``rl-memory visualize``.
"""

from rl_memory.viz import training_hook
from rl_memory.viz.callbacks import MemoryVizCallback, WandbCallback, make_viz_callbacks
from rl_memory.viz.figures import plot_memory_timeline, plot_recall_memory, plot_spans
from rl_memory.viz.metrics import cue_retained, memory_metrics
from rl_memory.viz.trace import EpisodeTrace, LayerTrace, PolicyStep, record_episode

__all__ = [
    "EpisodeTrace",
    "LayerTrace",
    "MemoryVizCallback",
    "PolicyStep",
    "WandbCallback",
    "cue_retained",
    "make_viz_callbacks",
    "memory_metrics",
    "plot_memory_timeline",
    "plot_recall_memory",
    "plot_spans",
    "record_episode",
]

training_hook.install()
