"""``rl-memory bench``: train memory agents and baselines on corridors of several lengths.

Every (agent, length, seed) cell trains in its own process through the same code as
``rl-memory train``, one cell at a time, and the command writes ``results.csv``,
``curves.csv``, ``results.md`` and ``learning.png`` (plus ``generalization.csv`` with
``--generalize-to``) into ``--out``. See ``rl_memory.bench`` for what each column measures.
"""

from __future__ import annotations

import argparse
import math
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

DEFAULT_AGENTS = "expire-span,transformer-xl,lstm,frame-stack,none"
DEFAULT_LENGTHS = "10,30,100"
DEFAULT_SEEDS = "0,1"
DEFAULT_STEPS = "10=100000,30=200000,100=300000"
DEFAULT_OUT_ROOT = Path("runs")
DEFAULT_GENERALIZE_EPISODES = 100


def register(subparsers: Any) -> None:
    """Add the ``bench`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "bench",
        help="compare memory agents and baselines on the corridor task",
        description="Train each agent on corridors of each length with each seed, one cell "
        "at a time in its own process, and write a CSV, a markdown table and a plot of "
        "success rate against env steps, env steps to the target success rate, env steps "
        "per second, peak resident memory and memories kept. Optionally evaluate the "
        "agents trained on one length on longer corridors.",
    )
    parser.add_argument(
        "--memory",
        default=DEFAULT_AGENTS,
        metavar="KINDS",
        help="comma-separated agents: memory kinds (expire-span, transformer-xl, all, lstm, "
        "frame-stack, none), or a kind with settings after a colon, separated by '+', e.g. "
        f"frame-stack:memory.frame_stack=8 (default: {DEFAULT_AGENTS})",
    )
    parser.add_argument(
        "--lengths",
        default=DEFAULT_LENGTHS,
        metavar="L,...",
        help=f"comma-separated corridor lengths (default: {DEFAULT_LENGTHS})",
    )
    parser.add_argument(
        "--seeds", default=DEFAULT_SEEDS, metavar="S,...", help=f"seeds (default: {DEFAULT_SEEDS})"
    )
    parser.add_argument(
        "--steps",
        default=DEFAULT_STEPS,
        metavar="L=N,...",
        help="env step budget per length as LENGTH=STEPS pairs, or one number for every "
        f"length (default: {DEFAULT_STEPS})",
    )
    parser.add_argument(
        "--max-wall-time",
        type=float,
        metavar="SECONDS",
        help="stop a cell's training at the first rollout end after this many seconds "
        "(default: no cap); the cap is recorded as the cell's stop reason",
    )
    parser.add_argument(
        "--target",
        type=float,
        default=0.95,
        help="training success rate over the last 100 episodes that counts as solved "
        "(default: 0.95)",
    )
    parser.add_argument(
        "--no-stop-at-target",
        action="store_true",
        help="keep training after the target is reached (default: stop, then evaluate)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="config override applied to every cell, e.g. --set env.n_envs=8 (repeatable)",
    )
    parser.add_argument(
        "--init-length",
        type=int,
        metavar="L",
        help="one of --lengths: every longer cell starts from the policy of the same agent "
        "and seed trained at L, a curriculum for corridors too long to learn from scratch "
        "(default: every cell starts from scratch)",
    )
    parser.add_argument(
        "--generalize-to",
        default="",
        metavar="L,...",
        help="evaluate the agents trained on --generalize-from on these longer lengths, with "
        "each length's default env.kwargs.max_steps",
    )
    parser.add_argument(
        "--generalize-from",
        type=int,
        metavar="L",
        help="training length of the agents evaluated on longer corridors (default: the "
        "longest of --lengths)",
    )
    parser.add_argument(
        "--generalize-memory",
        metavar="KINDS",
        help="comma-separated agents evaluated on longer corridors (default: all)",
    )
    parser.add_argument(
        "--generalize-seeds",
        metavar="S,...",
        help="seeds of the agents evaluated on longer corridors (default: all)",
    )
    parser.add_argument(
        "--generalize-episodes",
        type=int,
        metavar="N",
        help="episodes per evaluation on a longer corridor (default: "
        f"{DEFAULT_GENERALIZE_EPISODES})",
    )
    parser.add_argument(
        "--generalize-scale-spans",
        action="store_true",
        help="on each longer corridor, multiply an Expire-Span agent's memory.max_span by the "
        "length over its training length, rounded, so its spans grow with the corridor "
        "(default: evaluate every agent as trained)",
    )
    parser.add_argument(
        "--generalize-timeout",
        type=float,
        metavar="SECONDS",
        help="abandon an evaluation on a longer corridor after this many seconds (default: "
        "no limit)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="output folder: new, empty, or an earlier benchmark's folder to continue it "
        "(cells measured there with the same settings are reused, the others run again and "
        "their old run folders get a -previous suffix) "
        f"(default: {DEFAULT_OUT_ROOT}/bench-<YYYYmmdd-HHMMSS>)",
    )
    parser.set_defaults(func=run)


def _int_list(text: str, option: str, minimum: int = 1, example: str = "10,30") -> list[int]:
    """Parse comma-separated integers >= ``minimum`` for ``option``."""
    from rl_memory.cli import UsageError

    try:
        values = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise UsageError(
            f"invalid value {text!r} for {option}: expected comma-separated integers, e.g. "
            f"{example}"
        ) from None
    if any(value < minimum for value in values):
        raise UsageError(f"invalid value {text!r} for {option}: every value must be >= {minimum}")
    repeated = next((value for value in values if values.count(value) > 1), None)
    if repeated is not None:
        raise UsageError(f"invalid value {text!r} for {option}: {repeated} is given twice")
    return values


def parse_steps(text: str, lengths: list[int]) -> dict[int, int]:
    """Parse ``--steps``: one number for every length, or ``LENGTH=STEPS`` pairs for each."""
    from rl_memory.cli import UsageError

    if "=" not in text:
        values = _int_list(text, "--steps")
        if len(values) != 1:
            raise UsageError(
                f"invalid value {text!r} for --steps: give one number for every length, e.g. "
                "300000, or LENGTH=STEPS pairs, e.g. 10=100000,30=200000"
            )
        return {length: values[0] for length in lengths}
    budget: dict[int, int] = {}
    for item in text.split(","):
        length_text, sep, steps_text = item.partition("=")
        try:
            length, steps = int(length_text), int(steps_text)
        except ValueError:
            length = steps = 0
        if not sep or length < 1 or steps < 1:
            raise UsageError(
                f"invalid item {item!r} in --steps: expected LENGTH=STEPS with integers >= 1, "
                "e.g. 10=100000"
            )
        if length in budget:
            raise UsageError(f"invalid value {text!r} for --steps: length {length} is given twice")
        budget[length] = steps
    missing = [length for length in lengths if length not in budget]
    if missing:
        raise UsageError(
            f"--steps has no budget for length {missing[0]}: add {missing[0]}=STEPS, e.g. "
            f"--steps {text},{missing[0]}=100000"
        )
    return budget


def _agents(text: str, option: str = "--memory") -> list[str]:
    from rl_memory.cli import UsageError
    from rl_memory.commands.train import MEMORY_KINDS

    agents = [item.strip().replace("+", ",") for item in text.split(",") if item.strip()]
    repeated = next((agent for agent in agents if agents.count(agent) > 1), None)
    if repeated is not None:
        raise UsageError(f"invalid value {text!r} for {option}: {repeated!r} is given twice")
    for agent in agents:
        if agent.split(":", 1)[0] not in MEMORY_KINDS:
            raise UsageError(
                f"invalid agent {agent!r} in {option}: the kind must be one of "
                f"{', '.join(MEMORY_KINDS)}"
            )
    return agents


def build_plan(args: argparse.Namespace) -> Any:
    """Return the ``BenchmarkPlan`` of the parsed arguments.

    Raises:
        UsageError: On an invalid agent, length, seed, budget or cell configuration.
    """
    from rl_memory.bench import BenchmarkPlan, corridor_config
    from rl_memory.cli import UsageError
    from rl_memory.config import ConfigError

    _check_ranges(args)
    lengths = _int_list(args.lengths, "--lengths")
    plan = BenchmarkPlan(
        agents=_agents(args.memory),
        lengths=lengths,
        seeds=_int_list(args.seeds, "--seeds", minimum=0, example="0,1"),
        steps=parse_steps(args.steps, lengths),
        out_dir=args.out or DEFAULT_OUT_ROOT / f"bench-{datetime.now():%Y%m%d-%H%M%S}",
        max_wall_time_s=args.max_wall_time,
        target=args.target,
        stop_at_target=not args.no_stop_at_target,
        overrides=list(args.overrides),
        init_length=_init_length(args.init_length, lengths, args.lengths),
        generalize_to=_int_list(args.generalize_to, "--generalize-to"),
        generalize_from=args.generalize_from,
        generalize_agents=_agents(args.generalize_memory, "--generalize-memory")
        if args.generalize_memory
        else None,
        generalize_seeds=_int_list(
            args.generalize_seeds, "--generalize-seeds", minimum=0, example="0,1"
        )
        if args.generalize_seeds
        else None,
        generalize_episodes=DEFAULT_GENERALIZE_EPISODES
        if args.generalize_episodes is None
        else args.generalize_episodes,
        generalize_scale_spans=args.generalize_scale_spans,
        generalize_timeout_s=args.generalize_timeout,
    )
    _check_generalization(plan)
    _check_out_dir(plan.out_dir)
    for cell in plan.cells():  # check every configuration before training anything
        try:
            config = corridor_config(cell)
        except ConfigError as error:
            raise UsageError(f"cell {cell.name}: {error}") from None
        fixed_stack = config.memory.kind != "frame-stack" or config.memory.frame_stack > 0
        if config.train.init_from is not None and not fixed_stack:
            raise UsageError(
                f"cell {cell.name}: --init-length needs a stack size that does not change "
                "with the length, because the observation space must match the loaded "
                "agent's; give one, e.g. --memory frame-stack:memory.frame_stack=50"
            )
    return plan


def _check_ranges(args: argparse.Namespace) -> None:
    from rl_memory.cli import UsageError

    evaluation_options = {
        "--generalize-scale-spans": args.generalize_scale_spans or None,
        "--generalize-from": args.generalize_from,
        "--generalize-memory": args.generalize_memory,
        "--generalize-seeds": args.generalize_seeds,
        "--generalize-episodes": args.generalize_episodes,
        "--generalize-timeout": args.generalize_timeout,
    }
    given_options = [option for option, value in evaluation_options.items() if value is not None]
    if given_options and not args.generalize_to:
        raise UsageError(
            f"{given_options[0]} needs --generalize-to: it sets the evaluations on longer "
            "corridors; add --generalize-to L,... or remove it"
        )

    for option, seconds, unset in (
        ("--max-wall-time", args.max_wall_time, "no cap"),
        ("--generalize-timeout", args.generalize_timeout, "no limit"),
    ):
        if seconds is not None and not 0 < seconds < math.inf:
            raise UsageError(
                f"invalid value {seconds} for {option}: use a finite number of seconds > 0, "
                f"or leave it out for {unset}"
            )
    if not 0 < args.target <= 1:
        raise UsageError(
            f"invalid value {args.target} for --target: use a success rate in (0, 1], e.g. 0.95"
        )
    if args.generalize_episodes is not None and args.generalize_episodes < 1:
        raise UsageError(
            f"invalid value {args.generalize_episodes} for --generalize-episodes: use an "
            "integer >= 1"
        )


def _check_generalization(plan: Any) -> None:
    """Reject evaluations on longer corridors that no trained cell would run."""
    from rl_memory.cli import UsageError

    if not plan.generalize_to:
        return
    evaluated = plan.generalize_agents or plan.agents
    if plan.generalize_scale_spans and not any(
        agent.split(":")[0] == "expire-span" for agent in evaluated
    ):
        raise UsageError(
            "--generalize-scale-spans applies to expire-span agents, and none of "
            f"{', '.join(evaluated)} is evaluated on longer corridors; add expire-span to "
            "--memory (and --generalize-memory) or remove --generalize-scale-spans"
        )
    source = plan.generalize_source
    if source not in plan.lengths:
        raise UsageError(
            f"invalid value {source} for --generalize-from: it must be one of --lengths "
            f"({','.join(map(str, plan.lengths))}), the lengths agents are trained on"
        )
    shorter = [length for length in plan.generalize_to if length <= source]
    if shorter:
        raise UsageError(
            f"invalid value {shorter[0]} in --generalize-to: evaluations run on corridors "
            f"longer than the training length {source}; use lengths above {source}"
        )
    for option, chosen, trained in (
        ("--generalize-seeds", plan.generalize_seeds, plan.seeds),
        ("--generalize-memory", plan.generalize_agents, plan.agents),
    ):
        missing = [item for item in chosen or [] if item not in trained]
        if missing:
            raise UsageError(
                f"invalid value {missing[0]!r} in {option}: no cell trains it; choose from "
                f"{', '.join(map(str, trained))}"
            )


def _check_out_dir(out_dir: Path) -> None:
    """Reject a non-empty output folder that contains no earlier benchmark."""
    from rl_memory.cli import UsageError

    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"output folder {out_dir} is a file; choose a folder with --out")
    if not out_dir.is_dir() or not any(out_dir.iterdir()) or (out_dir / "cells").is_dir():
        return
    raise UsageError(
        f"output folder {out_dir} is not empty and contains no benchmark (no cells/ folder); "
        "choose a new folder with --out, or an earlier benchmark's folder to continue it"
    )


def _init_length(value: int | None, lengths: list[int], text: str) -> int | None:
    from rl_memory.cli import UsageError

    if value is not None and value not in lengths:
        raise UsageError(
            f"invalid value {value} for --init-length: it must be one of --lengths ({text}), "
            f"so that its cells are trained first; add it, e.g. --lengths {value},{text}"
        )
    return value


def _cell_line(result: dict[str, Any]) -> str:
    cell = result["cell"]
    head = f"{cell['agent']} L={cell['length']} seed={cell['seed']}:"
    if "error" in result:
        return f"{head} failed ({result['error']})"
    record = result["evaluation"]
    to_target = result["steps_to_target"]
    return (
        f"{head} {record['env_steps']:,} steps ({result['stop_reason']}), "
        f"{result['env_steps_per_s']:,.0f} steps/s, success {record['success_rate']:.2f}, "
        f"target at {'-' if to_target is None else f'{to_target:,}'}, "
        f"peak {result['peak_rss_mib']:,.0f} MiB"
    )


def _evaluation_line(result: dict[str, Any]) -> str:
    cell = result["cell"]
    head = f"{cell['agent']} L={cell['length']} seed={cell['seed']} on L={result['eval_length']}"
    if result.get("max_span") is not None:
        head += f" (max_span {result['max_span']:,})"
    head += ":"
    if "error" in result:
        return f"{head} failed ({result['error']})"
    return f"{head} success {result['success_rate']:.2f} over {result['episodes']} episodes"


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print one line per cell and the markdown table."""
    from rl_memory.bench import run_benchmark

    plan = build_plan(args)
    count = len(plan.cells())
    print(f"benchmark folder: {plan.out_dir}; {count} cell{'' if count == 1 else 's'}", flush=True)
    results = run_benchmark(
        plan,
        on_cell=lambda r: print(_cell_line(r), flush=True),
        on_evaluation=lambda r: print(_evaluation_line(r), flush=True),
    )
    print((plan.out_dir / "results.md").read_text(encoding="utf-8"))
    failed_cells = sum("error" in result for result in results.cells)
    failed_evaluations = sum("error" in result for result in results.generalization)
    if failed_cells or failed_evaluations:
        print(
            f"rl-memory bench: {failed_cells} cell(s) and {failed_evaluations} evaluation(s) "
            f"failed; their logs are in {plan.out_dir / 'cells'} and "
            f"{plan.out_dir / 'generalization'}",
            file=sys.stderr,
        )
        return 1
    return 0
