"""Typed run configuration: dataclasses loaded from YAML presets and ``--set key=value``.

A run is configured by one ``RunConfig``. Its sections map one-to-one onto the top-level
keys of a YAML file::

    env:      {id: rl_memory/Corridor-v0, kwargs: {length: 20}, n_envs: 16, vec_env: dummy}
    memory:   AgentMemoryConfig (MemoryConfig of rl_memory.memory.base, plus the baselines)
    encoder:  EncoderConfig (rl_memory.agents.encoder)
    ppo:      {learning_rate: 3.0e-4, n_steps: 128, ...}
    train:    {total_steps: 200000, seed: 0, ...}
    log:      {wandb: auto, tensorboard: true}

Values are checked against the field types (int, float, bool, str, Literal choices,
optional values, tuples, and the free-form ``env.kwargs`` mapping) and against the ranges in
``FIELD_RANGES``. Every failure raises ``ConfigError`` with a one-line message that names the
key, the value, the allowed values and how to fix it.

Presets are the YAML files in ``rl_memory/configs/``. They ship as package data, so editable
and regular installs find them alike. The repository's top-level ``configs/`` is a symbolic
link to that folder.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.resources
import math
import re
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from rl_memory.agents.encoder import EncoderConfig
from rl_memory.memory.base import MemoryConfig

VecEnvKind = Literal["dummy", "subproc"]
AgentMemoryKind = Literal["expire-span", "transformer-xl", "all", "none", "lstm", "frame-stack"]
WandbMode = Literal["auto", "off", "offline", "online"]
RateSchedule = Literal["constant", "linear"]

PRESETS_PACKAGE = "rl_memory"
PRESETS_FOLDER = "configs"


class ConfigError(ValueError):
    """Invalid run configuration: unknown key, wrong type, value out of range."""


@dataclass
class EnvConfig:
    """The task and how many copies of it run side by side."""

    id: str = "rl_memory/Corridor-v0"
    """A Gymnasium id that ``rl_memory.envs.make_env`` accepts."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Constructor arguments of the env, for example ``{length: 20}``."""
    eval_kwargs: dict[str, Any] = field(default_factory=dict)
    """Arguments that replace entries of ``kwargs`` in every evaluation (during training, at
    the end and in ``rl-memory eval``), for example ``{start_jitter: 0}`` to train from
    random start cells and evaluate from the far end of the corridor."""
    n_envs: int = 16
    """Environments stepped in parallel, for training and for evaluation."""
    vec_env: VecEnvKind = "dummy"
    """'dummy': all envs in this process; 'subproc': one process per env."""


@dataclass
class PPOConfig:
    """PPO hyperparameters, passed to the algorithm's constructor."""

    learning_rate: float = 3e-4
    lr_schedule: RateSchedule = "constant"
    """Learning-rate schedule. With 'linear', both learning rates (main and span) fall
    linearly to 0 at train.total_steps, which steadies the policy at the end of a run."""
    n_steps: int = 128
    """Steps per env per rollout."""
    n_epochs: int = 4
    batch_envs: int = 4
    """Env chunks (each n_steps long) per minibatch; minibatch size = batch_envs * n_steps."""
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    normalize_advantage: bool = True
    """Whether advantages are normalised per minibatch, as SB3's PPO does by default."""
    span_learning_rate: float | None = None
    """Learning rate of the Expire-Span span predictor; None uses learning_rate."""


@dataclass
class TrainConfig:
    """Length of the run, seeding, device, evaluation and checkpoint schedule."""

    total_steps: int = 200_000
    """Environment steps to train for, summed over all envs."""
    seed: int = 0
    device: str = "auto"
    """'auto', 'cpu', 'cuda' or 'cuda:N'."""
    eval_interval: int = 50_000
    """Environment steps between evaluations during training; 0 evaluates only at the end."""
    eval_episodes: int = 100
    """Episodes per evaluation, including the final one."""
    checkpoint_interval: int = 50_000
    """Environment steps between writes of checkpoints/latest.zip; 0 writes it only at the end."""
    init_from: str | None = None
    """Checkpoint whose policy weights start this run, for example an agent trained on a
    shorter corridor. Step count, optimizer state and schedules start afresh."""
    torch_threads: int = 1
    """CPU threads for torch (``torch.set_num_threads``); 0 keeps torch's default.

    The agents' networks are small, so extra threads mostly contend with the envs and with
    other processes for the cores."""


@dataclass
class LogConfig:
    """Metric outputs besides the progress lines and metrics.csv."""

    wandb: WandbMode = "auto"
    """'auto' is 'offline' when wandb is installed and 'off' otherwise (WANDB_MODE wins)."""
    tensorboard: bool = True


@dataclass
class AgentMemoryConfig(MemoryConfig):
    """The ``memory`` section: a transformer episode memory, or the memory of a baseline.

    'expire-span', 'transformer-xl' and 'all' train ``ExpireSpanPPO``; 'lstm' trains
    sb3-contrib's ``RecurrentPPO`` with LSTMs of ``d_model`` units and ``n_layers`` layers;
    'frame-stack' and 'none' train SB3's ``PPO`` (see ``rl_memory.agents.baselines``).
    """

    kind: AgentMemoryKind = "expire-span"  # type: ignore[assignment]
    frame_stack: int = 0
    """Observations stacked by the 'frame-stack' baseline; 0 picks length + 2 * n_colors + 4
    for a corridor."""


@dataclass
class RunConfig:
    """Everything that defines a training run; saved in every run folder and checkpoint."""

    env: EnvConfig = field(default_factory=EnvConfig)
    memory: AgentMemoryConfig = field(default_factory=AgentMemoryConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    log: LogConfig = field(default_factory=LogConfig)


@dataclass(frozen=True)
class Range:
    """Allowed interval of a numeric field."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (
            self.high is not None and (value >= self.high if self.high_open else value > self.high)
        )

    def describe(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low}"
        if self.low is None:
            return f"{'<' if self.high_open else '<='} {self.high}"
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"in {left}{self.low}, {self.high}{right}"


POSITIVE = Range(low=0, low_open=True)
AT_LEAST_ONE = Range(low=1)
NON_NEGATIVE = Range(low=0)
UNIT = Range(low=0, high=1)

# Ranges of numeric fields by dotted key; fields not listed accept any value of their type.
FIELD_RANGES: dict[str, Range] = {
    "env.n_envs": AT_LEAST_ONE,
    "memory.d_model": AT_LEAST_ONE,
    "memory.n_layers": AT_LEAST_ONE,
    "memory.n_heads": AT_LEAST_ONE,
    "memory.d_ff": AT_LEAST_ONE,
    "memory.dropout": Range(low=0, high=1, high_open=True),
    "memory.max_span": AT_LEAST_ONE,
    "memory.ramp": AT_LEAST_ONE,
    "memory.init_span_fraction": Range(low=0, high=1, low_open=True, high_open=True),
    "memory.span_loss_coef": NON_NEGATIVE,
    "memory.span_predivide": POSITIVE,
    "memory.span_shortening": UNIT,
    "memory.window": AT_LEAST_ONE,
    "memory.frame_stack": NON_NEGATIVE,
    "memory.max_relative_position": AT_LEAST_ONE,
    "encoder.features_dim": AT_LEAST_ONE,
    "encoder.embedding_dim": AT_LEAST_ONE,
    "encoder.token_embedding_dim": AT_LEAST_ONE,
    "encoder.mlp_hidden": AT_LEAST_ONE,
    "ppo.learning_rate": POSITIVE,
    "ppo.n_steps": AT_LEAST_ONE,
    "ppo.n_epochs": AT_LEAST_ONE,
    "ppo.batch_envs": AT_LEAST_ONE,
    "ppo.gamma": UNIT,
    "ppo.gae_lambda": UNIT,
    "ppo.clip_range": POSITIVE,
    "ppo.ent_coef": NON_NEGATIVE,
    "ppo.vf_coef": NON_NEGATIVE,
    "ppo.max_grad_norm": POSITIVE,
    "ppo.span_learning_rate": POSITIVE,
    "train.total_steps": AT_LEAST_ONE,
    "train.seed": NON_NEGATIVE,
    "train.eval_interval": NON_NEGATIVE,
    # A success rate from fewer than 100 episodes is too noisy to report or to pick the best
    # checkpoint by.
    "train.eval_episodes": Range(low=100),
    "train.checkpoint_interval": NON_NEGATIVE,
    "train.torch_threads": NON_NEGATIVE,
}

_TRUE_WORDS = ("true", "yes", "on", "1")
_FALSE_WORDS = ("false", "no", "off", "0")
_NONE_WORDS = ("null", "none", "~")


# Field introspection ----------------------------------------------------------------------


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def config_keys(cls: type = RunConfig, prefix: str = "") -> Iterator[str]:
    """Yield the dotted key of every field of a config dataclass, sections included."""
    for name, tp in _field_types(cls).items():
        key = f"{prefix}{name}"
        yield key
        if _is_dataclass_type(tp):
            yield from config_keys(tp, f"{key}.")


def _unknown_key_error(key: str, section_cls: type, section: str, source: str) -> ConfigError:
    candidates = list(config_keys())
    suggestion = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    hint = f"did you mean '{suggestion[0]}'? " if suggestion else ""
    valid = ", ".join(_field_types(section_cls))
    where = f"'{section}'" if section else "the top level"
    return ConfigError(
        f"unknown config key '{key}' ({source}): {hint}keys allowed at {where}: {valid}"
    )


def _describe_type(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(str(c) for c in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_describe_type(a) for a in inner) + " or null"
    if origin is tuple:
        return f"a list of {_describe_type(typing.get_args(tp)[0])} values"
    if origin is dict or tp is dict:
        return "a mapping"
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))


# Value coercion ---------------------------------------------------------------------------


class _Invalid(Exception):
    """A value does not fit a field's type; turned into a ConfigError with context."""


def _coerce_scalar(value: Any, tp: Any) -> Any:
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE_WORDS + _FALSE_WORDS:
            return value.lower() in _TRUE_WORDS
        raise _Invalid
    if tp is int:
        if isinstance(value, bool):
            raise _Invalid
        if isinstance(value, int):
            return value
        number = _parse_number(value)
        if number is None or not float(number).is_integer():
            raise _Invalid
        return int(number)
    if tp is float:
        if isinstance(value, bool):
            raise _Invalid
        number = value if isinstance(value, (int, float)) else _parse_number(value)
        if number is None or not math.isfinite(number):
            raise _Invalid
        return float(number)
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise _Invalid
    raise TypeError(f"config fields of type {tp!r} are not supported")


def _parse_number(value: Any) -> float | int | None:
    if isinstance(value, float):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip().replace("_", "")
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def _coerce(value: Any, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is Literal:
        choices = typing.get_args(tp)
        if isinstance(value, bool):
            # YAML 1.1 reads a bare off/on as a bool: map it back to the word.
            value = "on" if value else "off"
        if value not in choices:
            raise _Invalid
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in _NONE_WORDS):
            if type(None) in typing.get_args(tp):
                return None
            raise _Invalid
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        for candidate in inner:
            try:
                return _coerce(value, candidate)
            except _Invalid:
                continue
        raise _Invalid
    if origin is tuple:
        if isinstance(value, str):
            value = yaml.safe_load(value)
        if not isinstance(value, (list, tuple)):
            raise _Invalid
        item_type = typing.get_args(tp)[0]
        return tuple(_coerce(item, item_type) for item in value)
    if origin is dict or tp is dict:
        if isinstance(value, str):
            value = yaml.safe_load(value)
        if value is None:
            return {}
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise _Invalid
        return dict(value)
    return _coerce_scalar(value, tp)


def _coerce_field(key: str, value: Any, tp: Any, source: str) -> Any:
    try:
        coerced = _coerce(value, tp)
    except _Invalid:
        raise ConfigError(
            f"invalid value {value!r} for '{key}' ({source}): expected {_describe_type(tp)}; "
            f"fix it, e.g. --set {key}={_example(tp)}"
        ) from None
    check_range(key, coerced, source)
    return coerced


def _example(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return str(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return _example(next(a for a in typing.get_args(tp) if a is not type(None)))
    if origin is tuple:
        return "[16,32]"
    examples = {int: "1", float: "0.5", bool: "true", str: "text"}
    return examples.get(tp, "{}")


def check_range(key: str, value: Any, source: str = "config") -> None:
    """Raise ConfigError if a numeric value lies outside its range in ``FIELD_RANGES``."""
    allowed = FIELD_RANGES.get(key)
    if allowed is None or value is None or isinstance(value, bool):
        return
    if isinstance(value, (int, float)) and not allowed.contains(value):
        raise ConfigError(
            f"invalid value {value!r} for '{key}' ({source}): must be {allowed.describe()}; "
            f"fix it with --set {key}=VALUE or in the YAML file"
        )


def _parse_free_value(text: str) -> Any:
    """Type a ``--set`` value for a free-form mapping such as ``env.kwargs``."""
    value = yaml.safe_load(text) if text.strip() else ""
    if isinstance(value, str):
        number = _parse_number(value)
        if number is not None:
            return number
    return value


# Applying mappings and overrides ---------------------------------------------------------


def apply_mapping(config: RunConfig, data: Any, source: str) -> RunConfig:
    """Return a copy of ``config`` with the values of a nested mapping applied.

    Args:
        config: The configuration to start from; not modified.
        data: A mapping shaped like the YAML files (sections of keys), possibly partial.
        source: Where the values come from (a file name), quoted in errors.

    Raises:
        ConfigError: On an unknown key, a value of the wrong type or out of range.
    """
    new = _copy(config)
    _apply_section(new, data, "", source)
    return new


def _apply_section(section: Any, data: Any, prefix: str, source: str) -> None:
    name = f"section '{prefix.rstrip('.')}'" if prefix else "the top level"
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"invalid value {data!r} for {name} ({source}): expected a mapping of keys to "
            f"values; allowed keys: {', '.join(_field_types(type(section)))}"
        )
    field_types = _field_types(type(section))
    for raw_name, value in data.items():
        key = f"{prefix}{raw_name}"
        if raw_name not in field_types:
            raise _unknown_key_error(key, type(section), prefix.rstrip("."), source)
        tp = field_types[raw_name]
        if _is_dataclass_type(tp):
            _apply_section(getattr(section, raw_name), value, f"{key}.", source)
        else:
            setattr(section, raw_name, _coerce_field(key, value, tp, source))


def apply_overrides(config: RunConfig, overrides: Sequence[str]) -> RunConfig:
    """Return a copy of ``config`` with ``KEY=VALUE`` overrides applied in order.

    Values are typed by the field they set: ``ppo.learning_rate=1e-4`` is a float,
    ``log.tensorboard=false`` a bool. Keys under ``env.kwargs`` are free-form and typed from
    their text as YAML does (``env.kwargs.length=30`` sets the int 30).

    Raises:
        ConfigError: On a malformed override, an unknown key, or an invalid value.
    """
    new = _copy(config)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"invalid override {item!r}: expected KEY=VALUE, e.g. --set ppo.learning_rate=1e-4"
            )
        set_value(new, key.strip(), text.strip(), source=f"--set {item}")
    return new


def set_value(config: RunConfig, key: str, value: Any, source: str = "--set") -> None:
    """Set one dotted key of ``config`` in place, typing ``value`` by the field's type.

    Raises:
        ConfigError: On an unknown key, a section given a value, or an invalid value.
    """
    parts = key.split(".")
    section: Any = config
    for index, part in enumerate(parts):
        full_key = ".".join(parts[: index + 1])
        field_types = _field_types(type(section))
        if part not in field_types:
            raise _unknown_key_error(key, type(section), ".".join(parts[:index]), source)
        tp = field_types[part]
        is_last = index == len(parts) - 1
        if _is_dataclass_type(tp):
            if is_last:
                first = next(iter(_field_types(tp)))
                raise ConfigError(
                    f"'{key}' is a section, not a value ({source}): set one of its keys, "
                    f"e.g. --set {key}.{first}=..."
                )
            section = getattr(section, part)
        elif is_last:
            setattr(section, part, _coerce_field(full_key, value, tp, source))
            return
        elif typing.get_origin(tp) is dict or tp is dict:
            typed = _parse_free_value(value) if isinstance(value, str) else value
            _set_in_mapping(getattr(section, part), parts[index + 1 :], typed)
            return
        else:
            raise ConfigError(
                f"unknown config key '{key}' ({source}): '{full_key}' is {_describe_type(tp)} "
                f"and has no keys; use --set {full_key}=VALUE"
            )


def _set_in_mapping(mapping: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        child = mapping.get(part)
        if not isinstance(child, dict):
            child = mapping[part] = {}
        mapping = child
    mapping[path[-1]] = value


def _copy(config: RunConfig) -> RunConfig:
    return config_from_dict(config_to_dict(config), "copy", check=False)


def for_evaluation(config: RunConfig) -> RunConfig:
    """Return a copy whose ``env.kwargs`` include ``env.eval_kwargs`` (then emptied)."""
    copy = _copy(config)
    copy.env.kwargs = {**copy.env.kwargs, **copy.env.eval_kwargs}
    copy.env.eval_kwargs = {}
    return copy


# Cross-field checks -----------------------------------------------------------------------

_DEVICE_PATTERN = r"auto|cpu|mps|cuda(:\d+)?"


def validate(config: RunConfig) -> RunConfig:
    """Check every range in ``FIELD_RANGES`` and the rules that tie fields together.

    Returns:
        ``config`` itself, so calls can be chained.

    Raises:
        ConfigError: Naming the first invalid key, its value and the fix.
    """
    flat = config_to_dict(config)
    for key in FIELD_RANGES:
        section, name = key.split(".")
        if name in flat.get(section, {}):
            check_range(key, flat[section][name])
    if not config.env.id.strip():
        raise ConfigError("invalid value '' for 'env.id': name an env, e.g. --env corridor")
    if config.env.n_envs % config.ppo.batch_envs != 0:
        divisors = [d for d in range(1, config.env.n_envs + 1) if config.env.n_envs % d == 0]
        raise ConfigError(
            f"invalid value {config.ppo.batch_envs} for 'ppo.batch_envs': it must divide "
            f"env.n_envs={config.env.n_envs}; allowed values: {', '.join(map(str, divisors))}"
        )
    if config.memory.d_model % config.memory.n_heads != 0:
        raise ConfigError(
            f"invalid value {config.memory.n_heads} for 'memory.n_heads': it must divide "
            f"memory.d_model={config.memory.d_model}; change one of the two"
        )
    if not re.fullmatch(_DEVICE_PATTERN, config.train.device):
        raise ConfigError(
            f"invalid value {config.train.device!r} for 'train.device': allowed values are "
            "auto, cpu, mps, cuda, cuda:N"
        )
    _check_device_available(config.train.device)
    return config


def _check_device_available(device: str) -> None:
    """Reject a CUDA or MPS device that this machine lacks, instead of training on the CPU."""
    if not device.startswith(("cuda", "mps")):
        return
    import torch

    if device == "mps":
        available = torch.backends.mps.is_available()
        present = "no MPS device"
    else:
        index = int(device.split(":")[1]) if ":" in device else 0
        available = index < torch.cuda.device_count()
        present = f"{torch.cuda.device_count()} CUDA device(s)"
    if not available:
        raise ConfigError(
            f"invalid value {device!r} for 'train.device': this machine has {present}; "
            "use --device cpu or --device auto"
        )


# YAML files and presets ------------------------------------------------------------------


def config_to_dict(config: RunConfig) -> dict[str, Any]:
    """Return the configuration as nested plain data (tuples become lists), ready for YAML."""
    return typing.cast(dict[str, Any], _to_plain(dataclasses.asdict(config)))


def _to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    return value


def config_from_dict(data: Any, source: str, check: bool = True) -> RunConfig:
    """Build a ``RunConfig`` from the defaults and a nested mapping shaped like the YAML files.

    Raises:
        ConfigError: On an unknown key or an invalid value.
    """
    config = RunConfig()
    _apply_section(config, data if data is not None else {}, "", source)
    return validate(config) if check else config


def dump_config(config: RunConfig) -> str:
    """Return the configuration as YAML text, in field order."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)


def read_yaml_mapping(path: Path | str) -> dict[str, Any]:
    """Read a YAML file that must contain a mapping (an empty file gives ``{}``).

    Raises:
        ConfigError: If the file is missing, unreadable, not YAML, or not a mapping.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}; check the path") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    return parse_yaml_mapping(text, str(path))


def parse_yaml_mapping(text: str, source: str) -> dict[str, Any]:
    """Parse YAML text that must contain a mapping; ``source`` names it in errors."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"invalid YAML in {source}{where}: fix the syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"invalid config in {source}: expected a mapping of sections "
            f"({', '.join(_field_types(RunConfig))}), got {type(data).__name__}"
        )
    return data


def load_config(path: Path | str) -> RunConfig:
    """Load a YAML file on top of the defaults and validate the result."""
    return config_from_dict(read_yaml_mapping(path), str(path))


def available_presets() -> list[str]:
    """Return the names of the shipped presets (``corridor`` for ``configs/corridor.yaml``)."""
    folder = importlib.resources.files(PRESETS_PACKAGE) / PRESETS_FOLDER
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    )


def load_preset(name: str) -> RunConfig:
    """Load the shipped preset ``name`` (for example ``corridor``).

    Raises:
        ConfigError: If no preset has that name, with the closest names and the full list.
    """
    names = available_presets()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(f"unknown preset '{name}': {hint}available presets: {', '.join(names)}")
    resource = importlib.resources.files(PRESETS_PACKAGE) / PRESETS_FOLDER / f"{name}.yaml"
    source = f"preset {PRESETS_FOLDER}/{name}.yaml"
    return config_from_dict(
        parse_yaml_mapping(resource.read_text(encoding="utf-8"), source), source
    )
