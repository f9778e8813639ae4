"""Run benchmark cells and evaluations one at a time, each in its own child process.

Each child is waited for with ``os.wait4``, which returns that child's own resource usage,
so ``ru_maxrss`` (KiB on Linux) is the peak resident memory of that cell alone.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rl_memory.bench.cells import Cell
from rl_memory.training.files import unique_path
from rl_memory.training.run_dir import CHECKPOINTS_DIR, LATEST_CHECKPOINT, RunDirectory

logger = logging.getLogger(__name__)

# Seconds a child may run beyond its training cap before it is killed: the final evaluation
# and checkpoint, process start-up and imports.
CHILD_GRACE_S = 900.0


@dataclass
class ChildRun:
    """Exit status, peak resident memory and wall time of a child process."""

    returncode: int
    peak_rss_mib: float
    wall_time_s: float
    timed_out: bool


def run_child(command: list[str], log_path: Path, timeout_s: float | None) -> ChildRun:
    """Run ``command`` with its output in ``log_path`` and return its exit and peak memory.

    A child still running after ``timeout_s`` seconds is killed.
    """
    import time

    started = time.perf_counter()
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        timer = None
        expired = threading.Event()
        if timeout_s is not None:

            def kill() -> None:
                expired.set()
                process.kill()

            timer = threading.Timer(timeout_s, kill)
            timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            if timer is not None:
                timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
    return ChildRun(
        returncode=process.returncode,
        peak_rss_mib=round(usage.ru_maxrss / 1024, 1),
        wall_time_s=round(time.perf_counter() - started, 2),
        timed_out=expired.is_set(),
    )


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env["WANDB_MODE"] = "disabled"
    return env


def stored_result(cell: Cell, out_dir: Path) -> dict[str, Any] | None:
    """Return the result of ``cell`` stored in ``out_dir`` by an earlier run, if complete.

    A result counts only if it was measured with the same cell settings and has its peak
    memory, so a benchmark can be continued after an interruption or a failed cell.
    """
    path = out_dir / "cells" / f"{cell.name}.json"
    if not path.is_file():
        return None
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if result.get("cell") != asdict(cell) or "peak_rss_mib" not in result:
        return None
    return result


def run_cell_process(cell: Cell, out_dir: Path) -> dict[str, Any]:
    """Train ``cell`` in a child process under ``out_dir/runs`` and return its result.

    The result is that of ``rl_memory.bench.cells.run_cell`` plus ``peak_rss_mib`` and the
    child's wall time; a cell whose child failed gets ``error`` with the log's path instead.
    A complete result of the same cell already in ``out_dir`` is returned without training;
    the run folder of an earlier attempt (failed, or with other settings) is kept, renamed
    with a ``-previous`` suffix.
    """
    previous = stored_result(cell, out_dir)
    if previous is not None:
        logger.info("cell %s: using the result stored in %s", cell.name, out_dir)
        return previous
    cell_dir = out_dir / "cells"
    cell_dir.mkdir(parents=True, exist_ok=True)
    spec_path = cell_dir / f"{cell.name}.spec.json"
    result_path = cell_dir / f"{cell.name}.json"
    log_path = cell_dir / f"{cell.name}.log"
    run_dir = out_dir / "runs" / cell.name
    if run_dir.exists():
        run_dir.rename(unique_path(run_dir.with_name(f"{cell.name}-previous")))
    spec = {"cell": asdict(cell), "run_dir": str(run_dir)}
    spec_path.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")

    timeout = None if cell.max_wall_time_s is None else cell.max_wall_time_s + CHILD_GRACE_S
    command = [sys.executable, "-m", "rl_memory.bench", str(spec_path), str(result_path)]
    child = run_child(command, log_path, timeout)
    if child.returncode != 0 or not result_path.is_file():
        reason = "timed out" if child.timed_out else f"exit status {child.returncode}"
        logger.error("cell %s failed (%s); see %s", cell.name, reason, log_path)
        return {"cell": asdict(cell), "error": f"{reason}; log: {log_path}"}
    result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
    result["peak_rss_mib"] = child.peak_rss_mib
    result["process_wall_time_s"] = child.wall_time_s
    result_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def evaluate_on_length(
    result: dict[str, Any],
    length: int,
    episodes: int,
    out_dir: Path,
    timeout_s: float | None,
    scale_spans: bool = False,
) -> dict[str, Any]:
    """Evaluate a trained cell's final agent on a corridor of ``length`` with ``rl-memory eval``.

    With ``scale_spans``, an Expire-Span agent's ``max_span`` is multiplied by ``length``
    over its training length. Every evaluation uses the default ``max_steps`` of the longer
    corridor. An evaluation of the same agent with the same number of episodes already in
    ``out_dir`` is reused; other earlier files of this evaluation get a ``-previous`` suffix.

    Returns the evaluation record plus the training cell, ``eval_length``, ``max_span``
    (None for agents without spans), ``peak_rss_mib`` and the child's wall time, or the
    cell, ``eval_length``, ``max_span`` and ``error`` if the evaluation failed.
    """
    cell = result["cell"]
    trained = Cell(**cell)
    run_dir = result["evaluation"]["run_dir"]
    name = f"{trained.name}-eval-L{length}"
    max_span = None
    if trained.kind == "expire-span":
        max_span = RunDirectory(Path(run_dir)).read_config().memory.max_span
        if scale_spans:
            max_span = round(max_span * length / cell["length"])
            name += f"-span{max_span}"
    eval_dir = out_dir / "generalization"
    eval_dir.mkdir(parents=True, exist_ok=True)
    output = eval_dir / f"{name}.json"
    usage_path = eval_dir / f"{name}.usage.json"
    log_path = eval_dir / f"{name}.log"
    base = {"cell": cell, "eval_length": length, "max_span": max_span}
    checkpoint = Path(run_dir) / CHECKPOINTS_DIR / LATEST_CHECKPOINT
    stored = _stored_evaluation(output, usage_path, episodes, result, checkpoint)
    if stored is not None:
        return {**base, **stored}
    _keep_previous(eval_dir, name, [output, usage_path, log_path])
    # Run as ``python -m rl_memory`` so that the command's errors are caught and printed.
    command = [sys.executable, "-m", "rl_memory", "eval", run_dir, "--output", str(output)]
    command += ["--episodes", str(episodes), "--set", f"env.kwargs.length={length}"]
    # A max_steps set for the training length (such as the corridor preset's) may be too
    # short for the longer corridor, so the evaluation takes that corridor's default.
    command += ["--set", "env.kwargs.max_steps=null"]
    # No more envs than episodes: every env steps until the last episode ends.
    n_envs = min(episodes, result.get("n_envs") or episodes)
    command += ["--set", f"env.n_envs={n_envs}"]
    if scale_spans and max_span is not None:
        command += ["--set", f"memory.max_span={max_span}"]
    command += ["--device", "cpu"]
    child = run_child(command, log_path, timeout_s)
    if child.returncode != 0 or not output.is_file():
        if child.timed_out:
            reason = f"timed out after {timeout_s:g} s, the --generalize-timeout"
        else:
            reason = f"exit status {child.returncode}"
        logger.error("evaluation %s failed (%s); see %s", name, reason, log_path)
        return {**base, "error": f"{reason}; log: {log_path}"}
    record = json.loads(output.read_text(encoding="utf-8"))
    usage = {"peak_rss_mib": child.peak_rss_mib, "process_wall_time_s": child.wall_time_s}
    usage_path.write_text(json.dumps(usage) + "\n", encoding="utf-8")
    return {**base, **record, **usage}


def _stored_evaluation(
    output: Path,
    usage_path: Path,
    episodes: int,
    result: dict[str, Any],
    checkpoint: Path,
) -> dict[str, Any] | None:
    """Return a stored evaluation of the cell's current agent with ``episodes``, else None.

    A cell trained again writes a new checkpoint, so an evaluation file older than the
    checkpoint, or of another step count, belongs to an earlier agent.
    """
    if not (output.is_file() and usage_path.is_file() and checkpoint.is_file()):
        return None
    if output.stat().st_mtime < checkpoint.stat().st_mtime:
        return None
    record: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    if record.get("episodes") != episodes:
        return None
    if record.get("env_steps") != result["evaluation"].get("env_steps"):
        return None
    return {**record, **json.loads(usage_path.read_text(encoding="utf-8"))}


def _keep_previous(folder: Path, name: str, paths: list[Path]) -> None:
    """Rename the existing ``paths`` (files named ``name`` + suffix) with a ``-previous`` suffix."""
    existing = [path for path in paths if path.exists()]
    if not existing:
        return
    # One free stem for all of them, so an evaluation's files stay together.
    stem = f"{name}-previous"
    number = 1
    while any((folder / (stem + path.name[len(name) :])).exists() for path in existing):
        number += 1
        stem = f"{name}-previous-{number}"
    for path in existing:
        path.rename(folder / (stem + path.name[len(name) :]))
