"""The learning benchmark: agents x corridor lengths x seeds, then evaluations on longer corridors.

Cells run one at a time, each in its own process, and the output folder is rewritten after
every cell, so an interrupted benchmark keeps what it measured::

    OUT/
      results.csv          one row per cell (see rl_memory.bench.report.RESULT_COLUMNS)
      curves.csv           training success rate at every rollout end of every cell
      generalization.csv   evaluations of trained agents on longer corridors
      results.md           the markdown tables of both
      learning.png         training success rate against env steps
      runs/<cell>/         the run folder of each cell, as `rl-memory train` writes it
      cells/, generalization/   per-cell specs, results and logs
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rl_memory.bench.cells import Cell
from rl_memory.bench.report import (
    GENERALIZATION_COLUMNS,
    RESULT_COLUMNS,
    generalization_markdown,
    generalization_row,
    plot_curves,
    result_row,
    results_markdown,
    write_csv,
    write_curves,
)
from rl_memory.bench.runner import evaluate_on_length, run_cell_process

logger = logging.getLogger(__name__)


@dataclass
class BenchmarkPlan:
    """Agents, lengths, seeds, budgets and evaluations of one learning benchmark."""

    agents: list[str]
    """Memory kinds, or ``KIND:KEY=VALUE,...`` variants such as
    ``frame-stack:memory.frame_stack=8``."""
    lengths: list[int]
    seeds: list[int]
    steps: dict[int, int]
    """Env step budget per corridor length."""
    out_dir: Path
    max_wall_time_s: float | None = None
    """Training time cap per cell, in seconds (None: no cap)."""
    target: float = 0.95
    stop_at_target: bool = True
    overrides: list[str] = field(default_factory=list)
    init_length: int | None = None
    """Length whose agents start the longer cells: each longer cell loads the policy of the
    same agent and seed trained at it (``train.init_from``). It must be one of ``lengths``,
    and None means every cell starts from scratch."""
    generalize_to: list[int] = field(default_factory=list)
    """Longer corridor lengths on which the agents trained on ``generalize_from`` are evaluated."""
    generalize_from: int | None = None
    """Training length of the agents evaluated on longer corridors (default: the longest)."""
    generalize_agents: list[str] | None = None
    """Agents evaluated on longer corridors (default: all)."""
    generalize_seeds: list[int] | None = None
    """Seeds of the agents evaluated on longer corridors (default: all)."""
    generalize_episodes: int = 100
    generalize_scale_spans: bool = False
    """Whether evaluations on longer corridors multiply an Expire-Span agent's ``max_span`` by
    (eval length / training length). Spans are fractions of ``max_span``, so every learned
    span then grows with the corridor. Other agents are evaluated unchanged."""
    generalize_timeout_s: float | None = None
    """Kill an evaluation on a longer corridor after this many seconds (None: no limit)."""

    @property
    def generalize_source(self) -> int:
        """Training length of the agents evaluated on longer corridors."""
        return self.generalize_from if self.generalize_from is not None else max(self.lengths)

    def cells(self) -> list[Cell]:
        """Return the cells in running order: by length, then seed, then agent.

        With ``init_length``, the cells of that length come before the longer ones, which
        get ``train.init_from`` set to their run folders.
        """
        lengths = sorted(self.lengths) if self.init_length is not None else self.lengths
        return [
            Cell(
                agent=agent,
                length=length,
                seed=seed,
                total_steps=self.steps[length],
                max_wall_time_s=self.max_wall_time_s,
                target=self.target,
                stop_at_target=self.stop_at_target,
                overrides=[*self.overrides, *self._init_overrides(agent, length, seed)],
            )
            for length in lengths
            for seed in self.seeds
            for agent in self.agents
        ]

    def _init_overrides(self, agent: str, length: int, seed: int) -> list[str]:
        if self.init_length is None or length <= self.init_length:
            return []
        source = Cell(agent=agent, length=self.init_length, seed=seed, total_steps=0)
        return [f"train.init_from={self.out_dir / 'runs' / source.name}"]


@dataclass
class BenchmarkResults:
    """Everything a benchmark measured so far."""

    cells: list[dict[str, Any]] = field(default_factory=list)
    generalization: list[dict[str, Any]] = field(default_factory=list)


def write_outputs(plan: BenchmarkPlan, results: BenchmarkResults) -> None:
    """Write the CSV files, the markdown tables and the plot of ``results`` into the out folder."""
    rows = [result_row(r) for r in results.cells]
    write_csv(plan.out_dir / "results.csv", RESULT_COLUMNS, rows)
    write_curves(plan.out_dir / "curves.csv", results.cells)
    markdown = results_markdown(rows, plan.target)
    if results.generalization:
        general = [generalization_row(r) for r in results.generalization]
        write_csv(plan.out_dir / "generalization.csv", GENERALIZATION_COLUMNS, general)
        markdown += "\n" + generalization_markdown(general)
    (plan.out_dir / "results.md").write_text(markdown, encoding="utf-8")
    if results.cells:
        plot_curves(plan.out_dir / "learning.png", results.cells, plan.target)


def run_benchmark(
    plan: BenchmarkPlan,
    on_cell: Callable[[dict[str, Any]], None] | None = None,
    on_evaluation: Callable[[dict[str, Any]], None] | None = None,
) -> BenchmarkResults:
    """Train every cell of ``plan``, then evaluate on longer corridors; write the outputs.

    Args:
        plan: The benchmark to run; ``plan.out_dir`` is created if missing.
        on_cell: Called with each cell's result as soon as it is known.
        on_evaluation: Called with each longer-corridor evaluation as soon as it is known.

    Returns:
        The results of every cell and evaluation, also written to ``plan.out_dir``.
    """
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    results = BenchmarkResults()
    for cell in plan.cells():
        logger.info("training cell %s", cell.name)
        result = run_cell_process(cell, plan.out_dir)
        results.cells.append(result)
        write_outputs(plan, results)
        if on_cell is not None:
            on_cell(result)

    source = plan.generalize_source
    chosen = plan.generalize_agents
    for result in results.cells:
        cell = result["cell"]
        if "error" in result or cell["length"] != source:
            continue
        if chosen is not None and cell["agent"] not in chosen:
            continue
        if plan.generalize_seeds is not None and cell["seed"] not in plan.generalize_seeds:
            continue
        for length in plan.generalize_to:
            evaluation = evaluate_on_length(
                result,
                length,
                plan.generalize_episodes,
                plan.out_dir,
                plan.generalize_timeout_s,
                plan.generalize_scale_spans,
            )
            results.generalization.append(evaluation)
            write_outputs(plan, results)
            if on_evaluation is not None:
                on_evaluation(evaluation)
    return results
