from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.logger import configure
from viz_fakes import CueEnv, WindowPolicy
from viz_wandb_files import offline_run_file, read_history

from rl_memory.viz.callbacks import MemoryVizCallback, WandbCallback, make_viz_callbacks
from rl_memory.viz.trace import model_policy_step
from rl_memory.viz.wandb_logger import (
    WandbOutput,
    has_wandb_credentials,
    init_wandb,
    resolve_wandb_mode,
)

CUE_ENV_ID = "VizTest/Cue-v0"
if CUE_ENV_ID not in gym.registry:
    gym.register(CUE_ENV_ID, entry_point=CueEnv, kwargs={"length": 6})


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_IDENTITY_TOKEN_FILE", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "missing-netrc"))


@pytest.fixture
def wandb_home(monkeypatch, tmp_path):
    """Keep wandb's cache, staging and config folders inside the test's folder."""
    for name in ("WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))


def test_resolve_mode_default_is_offline(monkeypatch, no_credentials):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    assert resolve_wandb_mode(None) == "offline"


def test_resolve_mode_reads_wandb_mode(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert resolve_wandb_mode(None) == "off"
    assert resolve_wandb_mode("offline") == "offline"


def test_resolve_mode_online_without_credentials(no_credentials):
    with pytest.warns(UserWarning, match="no credentials"):
        assert resolve_wandb_mode("online") == "offline"


def test_resolve_mode_online_with_netrc(monkeypatch, tmp_path):
    netrc_file = tmp_path / "netrc"
    netrc_file.write_text("machine api.wandb.ai\n  login user\n  password not-a-real-key\n")
    netrc_file.chmod(0o600)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_BASE_URL", raising=False)
    monkeypatch.setenv("NETRC", str(netrc_file))
    assert has_wandb_credentials()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_wandb_mode("online") == "online"


def test_resolve_mode_rejects_unknown_mode():
    with pytest.raises(ValueError, match="'sometimes' is invalid: use one of off, offline, online"):
        resolve_wandb_mode("sometimes")


def test_wandb_output_warns_once_on_failure():
    class BrokenRun:
        def log(self, data, step):
            raise RuntimeError("disk full")

    output = WandbOutput(BrokenRun(), "offline")
    with pytest.warns(UserWarning, match="disk full"):
        output.log({"a": 1}, step=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        output.log({"a": 2}, step=2)  # dropped silently after the first failure
    assert output.failed


def test_make_viz_callbacks_with_wandb_off(tmp_path):
    callbacks = make_viz_callbacks(tmp_path, CUE_ENV_ID, mode="off", interval=100)
    assert [type(c) for c in callbacks] == [MemoryVizCallback]
    assert not (tmp_path / "wandb").exists()


CORRIDOR = "rl_memory/Corridor-v0"
CORRIDOR_KWARGS = {"length": 3}


def _tiny_agent() -> Any:
    """Return an ExpireSpanPPO with a two-layer memory on 4 corridors of length 3."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

    from rl_memory.agents import EncoderConfig, ExpireSpanPPO
    from rl_memory.envs import make_env
    from rl_memory.memory import MemoryConfig

    torch.set_num_threads(1)
    env = VecMonitor(DummyVecEnv([lambda: make_env(CORRIDOR, **CORRIDOR_KWARGS)] * 4))
    memory = MemoryConfig(d_model=16, n_layers=2, n_heads=2, d_ff=32, max_span=16, ramp=4)
    encoder = EncoderConfig(
        features_dim=16,
        embedding_dim=4,
        grid_channels=(8,),
        token_embedding_dim=8,
        mlp_hidden=16,
    )
    return ExpireSpanPPO(
        "MemoryPolicy",
        env,
        n_steps=16,
        n_epochs=1,
        batch_envs=2,
        seed=0,
        policy_kwargs={"memory": memory, "encoder": encoder},
    )


def _sampling_policy(model: Any) -> Any:
    # Sampled actions reach the corridor's end (the recall step) in most episodes even
    # before training, so memory/cue_retained gets logged.
    return model_policy_step(model, deterministic=False)


def test_training_logs_offline_run(tmp_path, wandb_home):
    output = init_wandb("offline", tmp_path, {"env": CORRIDOR, "seed": 0})
    assert output is not None
    viz = MemoryVizCallback(
        CORRIDOR,
        CORRIDOR_KWARGS,
        interval=64,
        run_dir=tmp_path,
        wandb_output=output,
        n_episodes=4,
        policy_step=_sampling_policy,
    )
    model = _tiny_agent()
    model.set_logger(configure(str(tmp_path / "sb3"), ["csv"]))
    model.learn(total_timesteps=192, callback=[viz, WandbCallback(output)])

    history = read_history(offline_run_file(tmp_path))
    keys = set().union(*history)
    for key in (
        "rollout/ep_rew_mean",
        "train/loss",
        "memory/retained_mean",
        "memory/retained_max/layer1",
        "memory/span_mean",
        "memory/span_loss",
        "memory/cue_retained",
        "memory/cue_retained/layer1",
        "memory/memory_timeline._type",
        "memory/spans._type",
        "memory/recall_memory._type",
        "memory/episode_trace._type",
        "memory/episode_video._type",
    ):
        assert key in keys, f"{key} missing from the offline run's history"
    steps = [item["_step"] for item in history if "memory/memory_timeline._type" in item]
    assert steps == [64, 128, 192]
    for item in history:
        if "memory/cue_retained" in item:
            assert 0.0 <= item["memory/cue_retained"] <= 1.0

    figures = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("memory/*/*.png"))
    assert "memory/step_000000064/memory_timeline.png" in figures
    assert (tmp_path / "memory/step_000000192/trace.csv").exists()

    # WANDB_BASE_URL is https://invalid (tests/conftest.py): a request would log an error.
    internal = next(tmp_path.glob("wandb/offline-run-*/logs/debug-internal.log")).read_text()
    assert '"level":"ERROR"' not in internal
    assert "https://invalid" not in internal


def test_tensorboard_gets_figures(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    viz = MemoryVizCallback(CORRIDOR, CORRIDOR_KWARGS, interval=64, policy_step=_sampling_policy)
    model = _tiny_agent()
    model.set_logger(configure(str(tmp_path), ["tensorboard"]))
    model.learn(total_timesteps=128, callback=viz)

    events = EventAccumulator(str(tmp_path)).Reload()
    assert "memory/memory_timeline" in events.Tags()["images"]
    assert "memory/recall_memory" in events.Tags()["images"]
    assert "memory/span_mean" in events.Tags()["scalars"]
    assert "train/loss" in events.Tags()["scalars"]


def test_fake_policy_gives_full_cue_retention(tmp_path):
    viz = MemoryVizCallback(
        CUE_ENV_ID, interval=64, n_episodes=2, policy_step=lambda model: WindowPolicy(window=3)
    )
    model = PPO("MlpPolicy", CueEnv(length=6), n_steps=64, batch_size=64, n_epochs=1, seed=0)
    model.set_logger(configure(str(tmp_path), ["csv"]))
    model.learn(total_timesteps=64, callback=viz)
    rows = (tmp_path / "progress.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert "memory/cue_retained" in header
    values = [row.split(",")[header.index("memory/cue_retained")] for row in rows[1:]]
    assert "1.0" in values


def test_training_hook_builds_callbacks(tmp_path):
    from stable_baselines3.common.callbacks import CallbackList

    from rl_memory.config import RunConfig
    from rl_memory.training import hooks
    from rl_memory.viz.training_hook import RECORDED_EPISODES, viz_callback

    assert hooks._hook is viz_callback, "importing rl_memory.viz installs the hook"
    config = RunConfig()
    config.env.id = CUE_ENV_ID
    config.train.eval_interval = 500
    callback = viz_callback(hooks.WandbRequest("off", config, tmp_path, "run", False))
    assert isinstance(callback, CallbackList)
    (viz,) = callback.callbacks
    assert isinstance(viz, MemoryVizCallback)
    assert viz.interval == 500
    assert viz.n_episodes == RECORDED_EPISODES


class RecordingRun:
    def __init__(self) -> None:
        self.logged: list[tuple[dict, int]] = []

    def log(self, data, step):
        self.logged.append((data, step))


def test_wandb_writer_sends_scalars_at_step():
    import numpy as np
    from stable_baselines3.common.logger import Image

    from rl_memory.viz.wandb_logger import WandbWriter

    run = RecordingRun()
    writer = WandbWriter(WandbOutput(run, "offline"))
    values = {
        "train/loss": np.float32(0.5),
        "time/fps": 120,
        "memory/span_mean": torch.tensor(3.0),
        "memory/memory_timeline": Image(np.zeros((4, 4, 3), dtype=np.uint8), "HWC"),
        "train/n_updates": 7,
    }
    excluded = {key: None for key in values}
    excluded["train/n_updates"] = ("wandb",)
    writer.write(values, excluded, step=2048)
    ((data, step),) = run.logged
    assert step == 2048
    assert data == {"train/loss": 0.5, "time/fps": 120, "memory/span_mean": 3.0}


def test_video_skipped_without_encoders(monkeypatch, caplog):
    import rl_memory.viz.wandb_logger as wandb_logger

    monkeypatch.setattr(wandb_logger, "MEDIA_PACKAGES", ("no_such_media_package",))
    output = WandbOutput(RecordingRun(), "offline")
    with caplog.at_level("INFO", logger="rl_memory.viz.wandb_logger"):
        assert not output.video_encoders_available()
        assert not output.video_encoders_available()
    skipped = [r for r in caplog.records if "videos are skipped" in r.getMessage()]
    assert len(skipped) == 1
