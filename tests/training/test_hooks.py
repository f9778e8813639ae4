"""The wandb seam: mode resolution and the hook the viz package installs."""

from __future__ import annotations

from pathlib import Path

import pytest
from stable_baselines3.common.callbacks import BaseCallback

from rl_memory.config import RunConfig
from rl_memory.training import hooks
from rl_memory.training.hooks import WandbRequest, resolve_wandb_mode, wandb_callback


@pytest.mark.parametrize("mode", ["off", "offline", "online"])
def test_explicit_mode_kept(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert resolve_wandb_mode(mode) == mode


@pytest.mark.parametrize(
    ("env_value", "expected"), [("disabled", "off"), ("offline", "offline"), ("online", "online")]
)
def test_auto_follows_wandb_mode(
    env_value: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", env_value)
    assert resolve_wandb_mode("auto") == expected


def test_auto_is_offline_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANDB_MODE", raising=False)
    assert resolve_wandb_mode("auto") == "offline"  # wandb is a dependency


class Marker(BaseCallback):
    def _on_step(self) -> bool:
        return True


def request(mode: str) -> WandbRequest:
    return WandbRequest(mode, RunConfig(), Path("run"), "run", resume=False)  # type: ignore[arg-type]


def test_hook_receives_request(monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[WandbRequest] = []

    def hook(req: WandbRequest) -> BaseCallback:
        received.append(req)
        return Marker()

    monkeypatch.setattr(hooks, "_hook", hook)
    assert isinstance(wandb_callback(request("offline")), Marker)
    assert received[0].mode == "offline"
    assert isinstance(wandb_callback(request("off")), Marker)
    assert received[1].mode == "off"
