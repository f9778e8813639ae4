"""``rl-memory eval``: evaluate a saved agent, on its own task or on another size of it.

The result is printed and written to a new JSON file: by default
``RUN_DIR/evals/eval-<env>-<YYYYmmdd-HHMMSS>.json``, never over the training run's eval.json
or an earlier result.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from rl_memory.commands import seed_value

DEFAULT_EPISODES = 100
CHECKPOINT_CHOICES = ("latest", "best")
MAX_SPAN_KEY = "memory.max_span"


def register(subparsers: Any) -> None:
    """Add the ``eval`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a saved agent",
        description="Evaluate the agent of a run folder or checkpoint over whole episodes, "
        "passing its memory state and episode starts, and report success rate, mean return "
        "and retained memories per layer. The env may differ from the training env (for "
        "example a longer corridor) as long as its observations have the same shape. An "
        "Expire-Span agent's spans are fractions of memory.max_span, so raising it with the "
        "length lets the agent keep its memories for as long as the longer task needs.",
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
        help="which checkpoint of a run folder to load (default: latest, the final agent). A "
        ".zip is loaded as given, without this option",
    )

    parser.add_argument(
        "--env",
        metavar="ID",
        help="evaluate on this Gymnasium id instead of the training env, e.g. "
        "rl_memory/Corridor-L1000-v0 (add --set env.kwargs.agent_view_size=3 for an agent "
        "trained with a 3x3 view); the training env.kwargs and env.eval_kwargs are then "
        "dropped (default: the training env with env.eval_kwargs applied)",
    )

    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override an env.* key or an Expire-Span agent's memory.max_span, e.g. --set "
        "env.kwargs.length=1000 or --set env.n_envs=8; --set memory.max_span=10010 scales "
        "every span by 10010 / the trained max_span (repeatable)",
    )

    parser.add_argument(
        "--episodes",
        type=int,
        default=DEFAULT_EPISODES,
        metavar="N",
        help=f"episodes to run (default: {DEFAULT_EPISODES})",
    )

    parser.add_argument(
        "--stochastic",
        action="store_true",
        help="sample actions from the policy (default: deterministic, the most likely action)",
    )

    parser.add_argument(
        "--seed",
        type=seed_value,
        help="seed of the evaluation envs (default: the training seed + 10000, as in training)",
    )

    parser.add_argument(
        "--device",
        default="auto",
        metavar="DEVICE",
        help="torch device: auto, cpu, cuda or cuda:N (default: auto)",
    )

    parser.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help="write the JSON result here; the file must not exist "
        "(default: RUN_DIR/evals/eval-<env>-<YYYYmmdd-HHMMSS>.json)",
    )

    parser.set_defaults(func=run)


def _checkpoint_path(args: argparse.Namespace) -> tuple[Path, Path | None]:
    """Return the checkpoint to load and the run folder it belongs to (None if unknown)."""
    from rl_memory.cli import UsageError
    from rl_memory.training.run_dir import BEST_CHECKPOINT, CHECKPOINTS_DIR, LATEST_CHECKPOINT

    target: Path = args.target
    if target.is_dir():
        name = BEST_CHECKPOINT if args.checkpoint == "best" else LATEST_CHECKPOINT
        return target / CHECKPOINTS_DIR / name, target
    if not target.exists():
        raise UsageError(
            f"run folder or checkpoint not found: {target}; pass a folder written by "
            "`rl-memory train` or a checkpoint .zip"
        )
    if args.checkpoint is not None:
        raise UsageError(
            f"--checkpoint {args.checkpoint} chooses a checkpoint of a run folder, but {target} "
            f"is a checkpoint file; pass its run folder instead, or remove --checkpoint"
        )
    parent = target.parent
    return target, parent.parent if parent.name == CHECKPOINTS_DIR else None


def _eval_config(checkpoint_config: Any, args: argparse.Namespace) -> Any:
    """Return the stored config with the env changed as requested."""
    from rl_memory.cli import UsageError
    from rl_memory.config import ConfigError, apply_overrides, for_evaluation, validate
    from rl_memory.training.checkpoint import fit_batch_envs

    changes = [] if args.env is None else [f"env.id={args.env}", "env.kwargs={}"]
    for item in args.overrides:
        key = item.split("=", 1)[0].strip()
        if not (key.startswith("env.") or key == MAX_SPAN_KEY):
            raise UsageError(
                f"invalid override {item!r} for eval: only env.* keys and {MAX_SPAN_KEY} can "
                "change, e.g. --set env.kwargs.length=1000; the agent keeps the rest of its "
                "trained configuration"
            )
        if key == MAX_SPAN_KEY and checkpoint_config.memory.kind != "expire-span":
            raise UsageError(
                f"invalid override {item!r} for eval: this agent's memory.kind is "
                f"{checkpoint_config.memory.kind!r} and only 'expire-span' has spans; "
                f"remove --set {MAX_SPAN_KEY}"
            )
    try:
        # Both return copies: the checkpoint's own config stays as stored.
        config = apply_overrides(for_evaluation(checkpoint_config), changes + list(args.overrides))
        # Validating the device here rejects a missing GPU instead of running on the CPU.
        config.train.device = args.device
        return validate(fit_batch_envs(config, config.env.n_envs))
    except ConfigError as error:
        raise UsageError(str(error)) from None


def _output_path(
    args: argparse.Namespace, run_dir: Path | None, checkpoint: Path, env_id: str
) -> Path:
    from rl_memory.cli import UsageError
    from rl_memory.training.files import unique_path
    from rl_memory.training.run_dir import RunDirectory, env_slug

    if args.output is not None:
        if args.output.exists():
            raise UsageError(f"output file {args.output} already exists; choose a new --output")
        return args.output
    if run_dir is not None:
        return RunDirectory(run_dir).new_eval_path(env_id)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return unique_path(
        checkpoint.with_name(f"{checkpoint.stem}-eval-{env_slug(env_id)}-{stamp}.json")
    )


def run(args: argparse.Namespace) -> int:
    """Evaluate the checkpoint, write the JSON result and print it."""
    from rl_memory.agents.policy import MemoryPolicy
    from rl_memory.cli import UsageError
    from rl_memory.training import (
        RunError,
        apply_torch_threads,
        build_agent_env,
        evaluate,
        evaluation_record,
        load_checkpoint,
        read_checkpoint,
    )
    from rl_memory.training.envs import EVAL_SEED_OFFSET
    from rl_memory.training.files import write_new_text

    if args.episodes < 1:
        raise UsageError(f"invalid value {args.episodes} for --episodes: use an integer >= 1")
    try:
        checkpoint, run_dir = _checkpoint_path(args)
        info = read_checkpoint(checkpoint)
        config = _eval_config(info.config, args)
        output = _output_path(args, run_dir, checkpoint, config.env.id)
        seed = args.seed if args.seed is not None else config.train.seed + EVAL_SEED_OFFSET
        apply_torch_threads(config)
        env = build_agent_env(config, seed)
        try:
            model = load_checkpoint(checkpoint, env, args.device, info, config.env.id)
            if config.memory.max_span != info.config.memory.max_span:
                cast(MemoryPolicy, model.policy).set_max_span(config.memory.max_span)
            result = evaluate(model, env, args.episodes, not args.stochastic, seed)
        finally:
            env.close()
    except RunError as error:
        raise UsageError(str(error)) from None

    record = evaluation_record(
        result, config, checkpoint, info.num_timesteps, info.train_wall_time_s, seed
    )
    try:
        # Another evaluation may have taken the default name meanwhile, so the name can change.
        output = write_new_text(output, json.dumps(record, indent=2) + "\n", args.output is None)
    except FileExistsError:
        raise UsageError(f"output file {output} already exists; choose a new --output") from None
    print(json.dumps(record, indent=2))
    print(f"wrote {output}", file=sys.stderr)
    return 0
