"""The ``rl-memory envs`` and ``rl-memory play`` commands."""

from __future__ import annotations

import pytest

from rl_memory.cli import main
from rl_memory.envs import registered_ids


def test_envs_lists_every_task(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["envs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = {line.split()[0] for line in lines}
    assert listed == set(registered_ids())
    corridor = next(line for line in lines if line.startswith("rl_memory/Corridor-L100-v0 "))
    assert "length=100" in corridor
    assert "corridor" in corridor.lower()


def test_play_unknown_id_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["play", "--env", "rl_memory/Coridor-v0"]) == 2
    error = capsys.readouterr().err
    assert "unknown environment id 'rl_memory/Coridor-v0'" in error
    assert "Did you mean" in error
    assert len(error.strip().splitlines()) == 1


def test_play_without_display_is_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert main(["play", "--env", "rl_memory/Corridor-v0"]) == 2
    error = capsys.readouterr().err
    assert "no display was found" in error
    assert len(error.strip().splitlines()) == 1


def test_play_ignores_actions_outside_task(monkeypatch: pytest.MonkeyPatch) -> None:
    from minigrid.core.actions import Actions
    from minigrid.manual_control import ManualControl

    controls: list[ManualControl] = []
    # Record the control instead of opening the window loop.
    monkeypatch.setattr(ManualControl, "start", lambda self: controls.append(self))
    assert main(["play", "--env", "rl_memory/Corridor-v0", "--seed", "3"]) == 0
    (control,) = controls
    assert control.env.unwrapped.render_mode == "human"
    assert control.seed == 3
    # Stepping an env that was never reset raises, so this passes only if toggle is ignored.
    control.step(Actions.toggle)
    control.env.close()
