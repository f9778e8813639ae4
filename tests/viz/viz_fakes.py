"""A tiny cue-recall env and a windowed fake memory policy, to test recording without the agent."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from rl_memory.memory.base import MemoryDiagnostics


class CueEnv(gym.Env):
    """A cue (0 or 1) shown at step 0 and needed at step ``length``: action 1 + cue is right."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"]}

    def __init__(self, length: int = 6, render_mode: str | None = "rgb_array") -> None:
        self.length = length
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(0, 2, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(3)
        self._step = 0
        self._cue = 0

    def _info(self) -> dict[str, Any]:
        return {"cue_steps": (0,), "recall_step": self.length if self._step >= self.length else -1}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._step = 0
        self._cue = int(self.np_random.integers(2))
        return np.array([1.0 + self._cue], dtype=np.float32), self._info()

    def step(self, action: int):
        self._step += 1
        info = self._info()
        if self._step > self.length:
            correct = int(action) == 1 + self._cue
            info.update(recall_correct=correct, is_success=correct)
            return np.zeros(1, dtype=np.float32), float(correct), True, False, info
        return np.zeros(1, dtype=np.float32), 0.0, False, False, info

    def render(self) -> np.ndarray:
        frame = np.zeros((8, 8, 3), dtype=np.uint8)
        frame[:, :, 0] = 40 * self._step
        return frame


class WindowPolicy:
    """Keeps the last ``window`` frames plus frame 0 and always returns action 2.

    Diagnostics follow the acting shapes of ``MemoryDiagnostics`` for B = 1 env, with the
    memories padded with step -1 to ``pad`` entries.
    """

    def __init__(self, window: int = 3, n_layers: int = 2, n_heads: int = 2, pad: int = 8):
        self.window, self.n_layers, self.n_heads, self.pad = window, n_layers, n_heads, pad

    def __call__(self, obs: Any, state: Any, episode_start: np.ndarray):
        step = 0 if episode_start[0] else state + 1
        kept = sorted({0, *range(max(0, step - self.window + 1), step + 1)})
        memory_step = torch.full((1, self.pad), -1, dtype=torch.long)
        memory_step[0, : len(kept)] = torch.tensor(kept)
        mask = (memory_step >= 0).float()
        attention = mask[:, None, :].repeat(1, self.n_heads, 1) / len(kept)
        diagnostics = MemoryDiagnostics(
            span_loss=torch.zeros(()),
            retained=torch.full((self.n_layers, 1), len(kept)),
            span=torch.full((self.n_layers, 1), 10.0 + step),
            memory_span=[torch.ones(1, self.pad)] * self.n_layers,
            memory_step=[memory_step] * self.n_layers,
            mask=[mask] * self.n_layers,
            attention=[attention] * self.n_layers,
        )
        return 2, step, diagnostics
