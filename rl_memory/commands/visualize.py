"""``rl-memory visualize``: record episodes of a saved agent and show what it kept in memory.

Writes, per episode, the memory timeline, span and recall figures as PNG files and a
per-step CSV, plus one self-contained ``report.html`` (images embedded, no scripts, no
links), into ``RUN_DIR/report/`` by default. Existing files are never overwritten: the
default folder gets a numeric suffix when taken, and an explicit ``--out`` must be new or
empty.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rl_memory.commands import seed_value

DEFAULT_EPISODES = 3
CHECKPOINT_CHOICES = ("latest", "best")
REPORT_FOLDER = "report"


def register(subparsers: Any) -> None:
    """Add the ``visualize`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "visualize",
        help="draw what a saved agent keeps in memory",
        description="Record episodes of the agent of a run folder or checkpoint, step by "
        "step with its memory's attention, and write per episode a memory timeline, the "
        "predicted spans and the frames in memory at the recall step (PNG), plus one "
        "self-contained HTML report.",
    )
    parser.add_argument(
        "target",
        type=Path,
        metavar="RUN_DIR_OR_CHECKPOINT",
        help="a run folder written by `rl-memory train`, or a checkpoint .zip file",
    )
    parser.add_argument(
        "--checkpoint",
        choices=CHECKPOINT_CHOICES,
        default="latest",
        help="which checkpoint of a run folder to load (default: latest)",
    )
    parser.add_argument(
        "--env",
        metavar="ID",
        help="record on this Gymnasium id instead of the training env, e.g. "
        "rl_memory/Corridor-L100-v0; the training env.kwargs are then dropped",
    )
    parser.add_argument(
        "--episodes",
        type=int,
        default=DEFAULT_EPISODES,
        metavar="N",
        help=f"episodes to record (default: {DEFAULT_EPISODES})",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="output folder; must not exist or be empty (default: RUN_DIR/report, or "
        "report-2, report-3, ... when taken)",
    )
    parser.add_argument(
        "--seed", type=seed_value, default=0, help="seed of the first episode (default: 0)"
    )
    parser.add_argument(
        "--stochastic",
        action="store_true",
        help="sample actions from the policy (default: deterministic)",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        metavar="DEVICE",
        help="torch device: cpu, cuda or cuda:N (default: cpu)",
    )
    parser.set_defaults(func=run)


def _checkpoint_path(target: Path, which: str) -> tuple[Path, Path | None]:
    """Return the checkpoint to load and its run folder (None for a loose checkpoint)."""
    from rl_memory.cli import UsageError
    from rl_memory.training.run_dir import BEST_CHECKPOINT, CHECKPOINTS_DIR, LATEST_CHECKPOINT

    if target.is_dir():
        name = BEST_CHECKPOINT if which == "best" else LATEST_CHECKPOINT
        checkpoint = target / CHECKPOINTS_DIR / name
        if not checkpoint.is_file():
            raise UsageError(
                f"{target} is not a run folder: {CHECKPOINTS_DIR}/{name} is missing; pass a "
                "folder written by `rl-memory train` or a checkpoint .zip"
            )
        return checkpoint, target
    if not target.is_file():
        raise UsageError(
            f"run folder or checkpoint not found: {target}; pass a folder written by "
            "`rl-memory train` or a checkpoint .zip"
        )
    parent = target.parent
    return target, parent.parent if parent.name == CHECKPOINTS_DIR else None


def output_folder(requested: Path | None, default: Path) -> Path:
    """Return the folder to write into, never one that already holds files.

    Raises:
        UsageError: ``requested`` is a file or a folder that is not empty.
    """
    from rl_memory.cli import UsageError

    if requested is not None:
        if requested.exists() and (not requested.is_dir() or any(requested.iterdir())):
            raise UsageError(
                f"output folder {requested} already exists and is not empty; pass a new "
                "--out folder (existing files are never overwritten)"
            )
        return requested
    candidate, counter = default, 2
    while candidate.exists() and (not candidate.is_dir() or any(candidate.iterdir())):
        candidate = default.with_name(f"{default.name}-{counter}")
        counter += 1
    return candidate


def _load(checkpoint: Path, env_id: str | None, device: str) -> tuple[Any, Any, Any]:
    """Load the agent and return (model, config, checkpoint info)."""
    from rl_memory.cli import UsageError
    from rl_memory.config import ConfigError, validate
    from rl_memory.training import build_agent_env, load_checkpoint, read_checkpoint

    info = read_checkpoint(checkpoint)
    config = info.config
    if env_id is not None:
        config.env.id = env_id
        config.env.kwargs = {}
    # Validating the device here rejects a missing GPU instead of running on the CPU.
    config.train.device = device
    try:
        validate(config)
    except ConfigError as error:
        raise UsageError(str(error)) from None
    # The loaded agent checks that its env has at least batch_envs copies; episodes are
    # recorded on a separate single env.
    env = build_agent_env(config, config.train.seed, n_envs=max(1, config.ppo.batch_envs))
    try:
        model = load_checkpoint(checkpoint, env, device, info, config.env.id)
    finally:
        env.close()
    memory = getattr(model.policy, "memory", None)
    if memory is None or getattr(memory.config, "kind", "none") == "none":
        kind = info.config.memory.kind
        raise UsageError(
            f"the agent in {checkpoint} has memory kind '{kind}', which keeps no frames to "
            "show; visualize an agent trained with --memory expire-span, transformer-xl or all"
        )
    return model, config, info


def run(args: argparse.Namespace) -> int:
    """Record the episodes, write the figures and the report, and print where they are."""
    from rl_memory.cli import UsageError
    from rl_memory.envs import make_env
    from rl_memory.training import RunError
    from rl_memory.viz.metrics import cue_retained
    from rl_memory.viz.report import write_report
    from rl_memory.viz.trace import describe_memory, model_policy_step, record_episode

    if args.episodes < 1:
        raise UsageError(f"invalid value {args.episodes} for --episodes: use an integer >= 1")
    checkpoint, run_dir = _checkpoint_path(args.target, args.checkpoint)
    default = (run_dir or checkpoint.parent / checkpoint.stem) / REPORT_FOLDER
    out_dir = output_folder(args.out, default)
    try:
        model, config, info = _load(checkpoint, args.env, args.device)
        env = make_env(config.env.id, **config.env.kwargs)
    except (RunError, ValueError) as error:
        raise UsageError(str(error)) from None

    policy_step = model_policy_step(model, deterministic=not args.stochastic)
    traces = []
    for index in range(args.episodes):
        trace = record_episode(policy_step, env, env_id=config.env.id, seed=args.seed + index)
        describe_memory(trace, model.policy)
        traces.append(trace)
    env.close()

    details = [
        ("checkpoint", str(checkpoint)),
        ("env", config.env.id),
        ("env kwargs", ", ".join(f"{k}={v}" for k, v in config.env.kwargs.items()) or None),
        ("memory", info.config.memory.kind),
        ("trained env steps", f"{info.num_timesteps:,}"),
        ("seeds", f"{args.seed} to {args.seed + args.episodes - 1}"),
        ("actions", "sampled" if args.stochastic else "deterministic"),
    ]
    title = f"What the agent remembers: {config.env.id}"
    report = write_report(out_dir, title, details, traces)

    retained = cue_retained(traces)
    if out_dir != (args.out or default):
        print(f"{default} is not empty; writing to {out_dir} instead", file=sys.stderr)
    print(f"recorded {len(traces)} episode{'s' if len(traces) > 1 else ''} of {config.env.id}")
    if retained is not None:
        print(f"cue in memory at the recall step: {retained:.0%} of recalls")
    print(f"wrote {report}")
    return 0
