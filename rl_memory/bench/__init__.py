"""The learning benchmark: memory agents and baselines on corridors of growing length.

``run_benchmark(BenchmarkPlan(...))`` trains every (agent, length, seed) cell in its own
process through ``rl_memory.training.train``, then writes a CSV, a markdown table and a plot.
``rl-memory bench`` is its command line, and ``benchmarks/learning.py`` runs the measurement
recorded in ``docs/benchmarks.md``.
"""

from rl_memory.bench.cells import Cell, LearningCurveCallback, corridor_config, run_cell
from rl_memory.bench.matrix import BenchmarkPlan, BenchmarkResults, run_benchmark, write_outputs

__all__ = [
    "BenchmarkPlan",
    "BenchmarkResults",
    "Cell",
    "LearningCurveCallback",
    "corridor_config",
    "run_benchmark",
    "run_cell",
    "write_outputs",
]
