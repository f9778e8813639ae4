"""``rl-memory train``: train an agent from a preset, write a run folder, evaluate it.

Configuration is resolved in this order, later steps overriding earlier ones:

1. the preset ``configs/<NAME>.yaml`` for ``--env NAME``, or the default configuration with
   ``env.id`` set when NAME is a registered Gymnasium id;
2. ``--config FILE`` (a full or partial YAML file with the same sections);
3. ``--set KEY=VALUE`` overrides, in order;
4. the dedicated options ``--seed``, ``--total-steps``, ``--n-envs``, ``--device``,
   ``--memory`` and ``--wandb``.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any

from rl_memory.commands import seed_value

DEFAULT_ENV = "corridor"
DEFAULT_RUNS_ROOT = Path("runs")
MEMORY_KINDS = ("expire-span", "transformer-xl", "all", "lstm", "frame-stack", "none")
WANDB_MODES = ("off", "offline", "online")

# Options that define the run; a resumed run keeps the values saved in its folder.
_FIXED_ON_RESUME = (
    "env",
    "config",
    "overrides",
    "seed",
    "n_envs",
    "memory",
    "run_dir",
    "init_from",
)


def register(subparsers: Any) -> None:
    """Add the ``train`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "train",
        help="train an agent and evaluate it",
        description="Train an agent on a memory task, print one progress line per update, "
        "write a run folder (config, checkpoints, metrics.csv, tensorboard events) and "
        "finish with an evaluation over at least 100 episodes, saved as eval.json.",
    )

    parser.add_argument(
        "--env",
        metavar="NAME",
        help="preset name (configs/NAME.yaml, e.g. corridor, corridor-100, smoke) or a "
        "registered Gymnasium id such as MiniGrid-MemoryS7-v0, which uses the default "
        f"configuration (default: {DEFAULT_ENV})",
    )

    parser.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="YAML file applied on top of the preset; it may set any subset of the keys",
    )

    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override one config key, typed by its field, e.g. --set ppo.learning_rate=1e-4 "
        "or --set env.kwargs.length=30 (repeatable)",
    )

    parser.add_argument(
        "--seed", type=seed_value, metavar="N", help="random seed (default: train.seed, 0)"
    )

    parser.add_argument(
        "--total-steps",
        type=int,
        metavar="N",
        help="environment steps to train for, summed over all envs; with --resume, the new "
        "total (default: train.total_steps of the preset)",
    )

    parser.add_argument(
        "--n-envs",
        type=int,
        metavar="N",
        help="environments stepped in parallel (default: env.n_envs of the preset)",
    )

    parser.add_argument(
        "--device",
        metavar="DEVICE",
        help="torch device: auto, cpu, cuda or cuda:N (default: train.device, auto)",
    )

    parser.add_argument(
        "--memory",
        choices=MEMORY_KINDS,
        help="memory of the agent: expire-span, transformer-xl and all train ExpireSpanPPO; "
        "the baselines lstm (RecurrentPPO), frame-stack and none (SB3 PPO) use the same "
        "observation encoder (default: memory.kind of the preset, expire-span)",
    )

    parser.add_argument(
        "--wandb",
        choices=WANDB_MODES,
        help="wandb logging; online contacts the wandb server (default: offline when wandb "
        "is installed, else off; WANDB_MODE is respected)",
    )

    parser.add_argument(
        "--init-from",
        metavar="CHECKPOINT",
        help="start from the policy weights of this checkpoint, or of a run folder's "
        "checkpoints/latest.zip, e.g. an agent trained on a shorter corridor; optimizer and "
        "step count start afresh (default: random weights)",
    )

    parser.add_argument(
        "--run-dir",
        type=Path,
        metavar="DIR",
        help="folder for this run; must not exist or be empty "
        f"(default: {DEFAULT_RUNS_ROOT}/<env>-<memory>-<YYYYmmdd-HHMMSS>)",
    )

    parser.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from checkpoints/latest.zip with its saved "
        "configuration, step count and optimizer state; only --total-steps, --device and "
        "--wandb may change",
    )

    parser.set_defaults(func=run)


def resolve_config(args: argparse.Namespace) -> tuple[Any, str]:
    """Return the resolved ``RunConfig`` and the short env name used in run folder names.

    Raises:
        UsageError: On an unknown preset or env id, config key or value.
    """
    from rl_memory.cli import UsageError
    from rl_memory.config import (
        ConfigError,
        apply_mapping,
        apply_overrides,
        available_presets,
        load_preset,
        read_yaml_mapping,
        set_value,
        validate,
    )

    name = args.env or DEFAULT_ENV
    try:
        is_preset = name in available_presets()
        config = load_preset(name) if is_preset else _config_for_env_id(name)
        if args.config is not None:
            config = apply_mapping(config, read_yaml_mapping(args.config), str(args.config))
        config = apply_overrides(config, args.overrides)
        dedicated = [
            ("train.seed", "--seed", args.seed),
            ("train.total_steps", "--total-steps", args.total_steps),
            ("env.n_envs", "--n-envs", args.n_envs),
            ("train.device", "--device", args.device),
            ("memory.kind", "--memory", args.memory),
            ("log.wandb", "--wandb", args.wandb),
            ("train.init_from", "--init-from", args.init_from),
        ]
        for key, option, value in dedicated:
            if value is not None:
                set_value(config, key, value, source=option)
        return validate(config), name
    except ConfigError as error:
        raise UsageError(str(error)) from None


def _config_for_env_id(name: str) -> Any:
    """Return the default configuration for a registered env id that has no preset."""
    from rl_memory.cli import UsageError
    from rl_memory.config import RunConfig, available_presets
    from rl_memory.envs.make import resolve_env_id

    try:
        resolve_env_id(name)
    except ValueError as error:
        presets = available_presets()
        close = difflib.get_close_matches(name, presets, n=1)
        suggestion = f"Did you mean the preset '{close[0]}'? " if close else ""
        raise UsageError(
            f"unknown env or preset '{name}': {error} {suggestion}Presets: {', '.join(presets)}"
        ) from None
    config = RunConfig()
    config.env.id = name
    return config


def _check_resume_options(args: argparse.Namespace) -> None:
    from rl_memory.cli import UsageError

    fixed = [option for option in _FIXED_ON_RESUME if getattr(args, option) not in (None, [])]
    if fixed:
        flags = ", ".join(
            "--set" if o == "overrides" else "--" + o.replace("_", "-") for o in fixed
        )
        raise UsageError(
            f"{flags} cannot be used with --resume: a resumed run keeps the configuration "
            "saved in its folder; only --total-steps, --device and --wandb may change"
        )


def run(args: argparse.Namespace) -> int:
    """Train (or resume) a run and print its final evaluation."""
    from rl_memory.cli import UsageError
    from rl_memory.config import ConfigError
    from rl_memory.training import RunError, default_run_dir, resume, train

    try:
        if args.resume is not None:
            _check_resume_options(args)
            record = resume(
                args.resume,
                total_steps=args.total_steps,
                device=args.device,
                wandb=args.wandb,
                progress=sys.stdout,
            )
        else:
            config, env_name = resolve_config(args)
            run_dir = args.run_dir or default_run_dir(
                DEFAULT_RUNS_ROOT, env_name, config.memory.kind
            )
            record = train(config, run_dir, progress=sys.stdout)
    except (RunError, ConfigError) as error:
        raise UsageError(str(error)) from None
    print_summary(record)
    return 0


def print_summary(record: dict[str, Any]) -> None:
    """Print an evaluation record as indented JSON after a one-line headline."""
    success = record.get("success_rate")
    success_text = "n/a" if success is None else f"{success:.3f}"
    print(
        f"evaluation over {record['episodes']} episodes: success rate {success_text}, "
        f"mean return {record['mean_return']:.3f}"
    )
    print(json.dumps(record, indent=2))
