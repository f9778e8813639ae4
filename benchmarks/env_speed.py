"""Measure reset and step cost of every rl-memory task next to MiniGrid-MemoryS13-v0.

Usage::

    python benchmarks/env_speed.py                  # measure and update docs/benchmarks.md
    python benchmarks/env_speed.py --no-write       # measure and print only

Each environment is built with ``gymnasium.make`` (numeric wrapper off) and with
``rl_memory.envs.make_env`` (numeric wrapper on). The step cost is the mean over seeded
random actions, excluding the resets between episodes; the reset cost is the mean over
seeded resets. The table goes into the "Environment speed" section of the output file.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import gymnasium
import minigrid

from rl_memory.envs import make_env

BASELINE_ID = "MiniGrid-MemoryS13-v0"
# A small and a large size of every task.
TASK_IDS: tuple[str, ...] = (
    "rl_memory/Corridor-L10-v0",
    "rl_memory/Corridor-L10000-v0",
    "rl_memory/Portal-R2-v0",
    "rl_memory/Portal-R6-v0",
    "rl_memory/Instruction-D10-v0",
    "rl_memory/Instruction-D1000-v0",
)
SECTION_TITLE = "## Environment speed"
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


@dataclass
class Timing:
    """Mean costs in microseconds of one environment build."""

    env_id: str
    numeric: bool
    reset_us: float
    step_us: float


def time_env(env: gymnasium.Env, n_resets: int, n_steps: int, seed: int) -> tuple[float, float]:
    """Return the mean reset and step cost of ``env`` in microseconds."""
    env.action_space.seed(seed)
    started = time.perf_counter()
    for episode in range(n_resets):
        env.reset(seed=seed + episode)
    reset_us = (time.perf_counter() - started) / n_resets * 1e6

    env.reset(seed=seed)
    step_seconds = 0.0
    for _ in range(n_steps):
        action = env.action_space.sample()
        started = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(action)
        step_seconds += time.perf_counter() - started
        if terminated or truncated:
            env.reset()
    return reset_us, step_seconds / n_steps * 1e6


def measure(env_ids: list[str], n_resets: int, n_steps: int, repeats: int) -> list[Timing]:
    """Time every id with the numeric wrapper off and on; keep the best of ``repeats``.

    The runs go round-robin over all builds, so a change in machine load during the
    benchmark affects every environment alike rather than the last ones measured.
    """
    builds = [(env_id, numeric) for env_id in env_ids for numeric in (False, True)]
    runs: dict[tuple[str, bool], list[tuple[float, float]]] = {build: [] for build in builds}
    for repeat in range(repeats):
        for env_id, numeric in builds:
            env = make_env(env_id) if numeric else gymnasium.make(env_id)
            runs[(env_id, numeric)].append(time_env(env, n_resets, n_steps, seed=1000 * repeat))
            env.close()
    return [
        Timing(
            env_id,
            numeric,
            reset_us=min(run[0] for run in runs[(env_id, numeric)]),
            step_us=min(run[1] for run in runs[(env_id, numeric)]),
        )
        for env_id, numeric in builds
    ]


def format_table(timings: list[Timing]) -> str:
    """Return a Markdown table with the step cost relative to the baseline's."""
    baseline = {t.numeric: t.step_us for t in timings if t.env_id == BASELINE_ID}
    lines = [
        "| environment | numeric wrapper | reset (µs) | step (µs) | step / MemoryS13 step |",
        "|---|---|---:|---:|---:|",
    ]
    for timing in timings:
        ratio = timing.step_us / baseline[timing.numeric]
        lines.append(
            f"| `{timing.env_id}` | {'on' if timing.numeric else 'off'} | "
            f"{timing.reset_us:,.0f} | {timing.step_us:,.1f} | {ratio:.2f} |"
        )
    return "\n".join(lines)


def format_section(table: str, command: str, args: argparse.Namespace, load: str) -> str:
    """Return the whole "Environment speed" section, heading included."""
    today = datetime.date.today().isoformat()
    return f"""{SECTION_TITLE}

Mean cost of `reset` and `step` of each task at a small and a large size, next to
Minigrid's `{BASELINE_ID}`, with the numeric observation wrapper off (`gymnasium.make`)
and on (`rl_memory.envs.make_env`). Steps use seeded random actions; the resets between
episodes are not counted in the step cost. Each figure is the best of round-robin runs:
{args.repeats} runs of {args.resets} resets and {args.steps} steps per environment.

Targets: a step within 2x of the MemoryS13 step, and a reset of the 10,000-cell corridor
under 10 ms (10,000 µs).

{table}

Measured on a 2-core {platform.machine()} machine that other jobs were using at the
same time, so the figures are noisy: compare figures within one run only.
Date: {today}; Python {platform.python_version()}, Minigrid {minigrid.__version__},
Gymnasium {gymnasium.__version__}; 1-minute load average: {load}. Command:

```
{command}
```
"""


def load_average() -> str:
    """Return the 1-minute load average as text, or "unknown" where the OS has none."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "unknown"


def write_section(path: Path, section: str) -> None:
    """Replace the "Environment speed" section of ``path``, creating the file if needed."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION_TITLE)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resets", type=int, default=200, help="resets per run")
    parser.add_argument("--steps", type=int, default=5000, help="steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per environment")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown file")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)

    load_before = load_average()
    timings = measure([BASELINE_ID, *TASK_IDS], args.resets, args.steps, args.repeats)
    load = f"{load_before} before, {load_average()} after"
    table = format_table(timings)
    print(table)
    if not args.no_write:
        command = " ".join(["python", "benchmarks/env_speed.py", *sys.argv[1:]])
        write_section(args.output, format_section(table, command, args, load))
        print(f"updated {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
