"""Run configuration: presets, YAML files, typed overrides and their error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from rl_memory.config import (
    ConfigError,
    RunConfig,
    apply_mapping,
    apply_overrides,
    available_presets,
    config_from_dict,
    config_keys,
    config_to_dict,
    dump_config,
    load_config,
    load_preset,
    read_yaml_mapping,
    validate,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
EXPECTED_PRESETS = {
    "corridor",
    "corridor-100",
    "corridor-300",
    "corridor-1000",
    "corridor-spans",
    "smoke",
    "portal",
    "instruction",
}


@pytest.mark.parametrize("name", sorted(EXPECTED_PRESETS))
def test_preset_loads_and_validates(name: str) -> None:
    config = load_preset(name)
    assert validate(config) is config
    assert config.env.id.startswith("rl_memory/")


def test_presets_shipped_and_linked() -> None:
    assert set(available_presets()) >= EXPECTED_PRESETS
    top_level = {path.stem for path in (REPO_ROOT / "configs").glob("*.yaml")}
    assert top_level == set(available_presets())


def test_corridor_presets_scale_span_with_length() -> None:
    corridor, spans = load_preset("corridor"), load_preset("corridor-spans")
    length = corridor.env.kwargs["length"]
    assert length >= 20
    # A fresh agent starts with spans longer than the delay, so it can learn to read the cue.
    assert corridor.memory.max_span * corridor.memory.init_span_fraction > length
    # The span stage trains on the same task, with spans learning far faster.
    assert spans.env.kwargs == corridor.env.kwargs
    assert spans.memory.max_span == corridor.memory.max_span
    assert spans.ppo.span_learning_rate > 100 * corridor.ppo.span_learning_rate  # type: ignore[operator]
    # The cue's ramp covers most delays, so most episodes can push the cue's span up.
    assert spans.memory.ramp > length / 2

    ladder = [load_preset(name) for name in ("corridor-100", "corridor-300", "corridor-1000")]
    lengths = [config.env.kwargs["length"] for config in ladder]
    assert lengths == sorted(lengths)
    assert lengths[0] > length
    for config, ladder_length in zip(ladder, lengths, strict=True):
        # Loaded spans are fractions of max_span, which grows with the length along the ladder.
        assert config.memory.max_span >= 6 * ladder_length + 10
        assert config.env.kwargs["start_jitter"] == ladder_length - 1
        assert config.ppo.span_learning_rate < corridor.ppo.span_learning_rate  # type: ignore[operator]


def test_overrides_typed_by_field() -> None:
    config = apply_overrides(
        RunConfig(),
        [
            "ppo.learning_rate=1e-4",
            "ppo.n_steps=64",
            "train.total_steps=1_000",
            "log.tensorboard=false",
            "log.wandb=off",
            "ppo.span_learning_rate=null",
            "encoder.grid_channels=[8, 8]",
            "env.kwargs.length=30",
            "env.kwargs.name=long",
            "env.kwargs.rate=3e-4",
        ],
    )
    assert config.ppo.learning_rate == pytest.approx(1e-4)
    assert isinstance(config.ppo.learning_rate, float)
    assert config.ppo.n_steps == 64
    assert config.train.total_steps == 1000
    assert config.log.tensorboard is False
    assert config.log.wandb == "off"
    assert config.ppo.span_learning_rate is None
    assert config.encoder.grid_channels == (8, 8)
    assert config.env.kwargs == {"length": 30, "name": "long", "rate": 3e-4}


def test_overrides_leave_original_unchanged() -> None:
    original = RunConfig()
    apply_overrides(original, ["ppo.n_steps=7", "env.kwargs.length=5"])
    assert original.ppo.n_steps == RunConfig().ppo.n_steps
    assert original.env.kwargs == {}


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("ppo.lerning_rate=1e-3", ["'ppo.lerning_rate'", "did you mean 'ppo.learning_rate'"]),
        ("trian.seed=1", ["'trian.seed'", "did you mean 'train.seed'"]),
        ("ppo.n_steps=abc", ["'abc'", "'ppo.n_steps'", "expected an integer"]),
        ("ppo.n_steps=1.5", ["'1.5'", "expected an integer"]),
        ("log.tensorboard=maybe", ["'maybe'", "true or false"]),
        ("ppo.gamma=2", ["'ppo.gamma'", "in [0, 1]"]),
        ("env.n_envs=0", ["'env.n_envs'", ">= 1"]),
        ("train.eval_episodes=10", ["'train.eval_episodes'", ">= 100"]),
        ("log.wandb=sometimes", ["'sometimes'", "off, offline, online"]),
        ("memory.kind=lstm2", ["'lstm2'", "expire-span, transformer-xl, all, none"]),
        ("memory=3", ["'memory' is a section", "memory.kind"]),
        ("env.id.x=3", ["'env.id.x'", "has no keys"]),
        ("no-equals-sign", ["'no-equals-sign'", "KEY=VALUE"]),
        ("ppo.batch_envs=5", ["'ppo.batch_envs'", "must divide env.n_envs=16", "1, 2, 4, 8, 16"]),
        ("memory.n_heads=3", ["'memory.n_heads'", "must divide memory.d_model"]),
        ("train.device=gpu", ["'gpu'", "auto, cpu, mps, cuda, cuda:N"]),
    ],
)
def test_bad_override_message(override: str, expected: list[str]) -> None:
    with pytest.raises(ConfigError) as raised:
        validate(apply_overrides(RunConfig(), [override]))
    message = str(raised.value)
    assert "\n" not in message
    for fragment in expected:
        assert fragment in message


def test_yaml_file_on_top_of_preset(tmp_path: Path) -> None:
    path = tmp_path / "partial.yaml"
    path.write_text("ppo:\n  n_epochs: 2\nlog:\n  wandb: off\n")
    config = apply_mapping(load_preset("corridor"), read_yaml_mapping(path), str(path))
    assert config.ppo.n_epochs == 2
    assert config.log.wandb == "off"  # a bare YAML off is read as False
    assert config.env.kwargs == load_preset("corridor").env.kwargs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ppo:\n  lerning_rate: 1.0\n", ["'ppo.lerning_rate'", "bad.yaml", "did you mean"]),
        ("ppo: [1, 2]\n", ["'ppo'", "expected a mapping"]),
        ("- a\n- b\n", ["bad.yaml", "expected a mapping of sections"]),
        ("ppo: {n_steps: [\n", ["invalid YAML", "bad.yaml", "line"]),
        ("train:\n  total_steps: many\n", ["'many'", "'train.total_steps'"]),
    ],
)
def test_bad_yaml_file_message(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    for fragment in expected:
        assert fragment in str(raised.value)


def test_missing_yaml_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")


def test_unknown_preset_suggests_name() -> None:
    with pytest.raises(ConfigError, match="did you mean 'corridor'"):
        load_preset("coridor")


def test_yaml_round_trip(tmp_path: Path) -> None:
    config = apply_overrides(load_preset("smoke"), ["env.kwargs.length=5", "ppo.gamma=0.9"])
    path = tmp_path / "config.yaml"
    path.write_text(dump_config(config))
    assert load_config(path) == config
    assert config_from_dict(config_to_dict(config), "dict") == config


def test_every_field_has_a_dotted_key() -> None:
    keys = set(config_keys())
    assert {"env.kwargs", "memory.max_span", "ppo.span_learning_rate", "log.wandb"} <= keys
    assert "train.eval_episodes" in keys
