"""One cell of the learning benchmark: an agent, a corridor length and a seed, trained once.

A cell runs in its own process (``python -m rl_memory.bench SPEC.json RESULT.json``)
so that its peak resident memory can be read on its own. It trains through
``rl_memory.training.train``, so it writes the same run folder and ``eval.json`` as
``rl-memory train``, and adds a learning curve measured by ``LearningCurveCallback``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

from rl_memory.config import RunConfig, apply_overrides, available_presets, load_preset, set_value

logger = logging.getLogger(__name__)

# Fastest span learning rate: the corridor preset's, tuned at length 20. Longer corridors get
# SPAN_RATE_TIMES_LENGTH / length, because the span predictor must keep the cue's span until
# the policy learns to use it, and that takes longer on longer corridors.
MAX_SPAN_LEARNING_RATE = 1e-5
SPAN_RATE_TIMES_LENGTH = 2e-4


@dataclass
class Cell:
    """Agent, corridor length, seed and budget of one benchmark cell."""

    agent: str
    """Label of the agent: a memory kind, or ``KIND:KEY=VALUE,...`` for a variant of one."""
    length: int
    """Corridor length of the training env."""
    seed: int
    total_steps: int
    """Env steps the cell may train for."""
    max_wall_time_s: float | None = None
    """Training stops at the first rollout end after this many seconds (None: no cap)."""
    target: float = 0.95
    """Success rate over the last ``window`` training episodes that counts as solved."""
    window: int = 100
    stop_at_target: bool = True
    """Stop training once the target is reached (the final evaluation still runs)."""
    overrides: list[str] = field(default_factory=list)
    """``KEY=VALUE`` settings of this cell, applied after the length rules."""

    @property
    def kind(self) -> str:
        return self.agent.split(":", 1)[0]

    @property
    def name(self) -> str:
        """Folder name of the cell: agent, length and seed."""
        agent = self.agent.replace(":", "-").replace("=", "").replace(",", "-")
        agent = agent.replace("memory.", "").replace("_", "")
        return f"{agent}-L{self.length}-s{self.seed}"

    def agent_overrides(self) -> list[str]:
        """Return the ``KEY=VALUE`` settings of a variant label (empty for a plain kind)."""
        _, _, settings = self.agent.partition(":")
        return [item for item in settings.split(",") if item]


def corridor_config(cell: Cell) -> RunConfig:
    """Return the run configuration of a cell on the corridor task.

    The preset ``corridor-<length>`` is used when one is shipped, and ``corridor`` as it is
    at its own length (20). Other lengths get ``corridor`` with these rules: ``max_span =
    2 * length + 10``, a span learning rate of ``min(1e-5, 2e-4 / length)``, the preset's
    env arguments with this length, training starting anywhere along the corridor
    (``start_jitter = length - 1``) and the default ``max_steps``. Evaluations start at the
    far end (the preset's ``env.eval_kwargs``). The Transformer-XL window is
    ``length // 2``, shorter than the cue-to-recall delay of an evaluation, unless the agent
    label sets ``memory.window``. Periodic evaluations and checkpoints are off; the final
    evaluation and checkpoint still run.

    Raises:
        ConfigError: If an override names an unknown key or an invalid value.
    """
    preset = f"corridor-{cell.length}"
    shipped = preset in available_presets()
    config = load_preset(preset if shipped else "corridor")
    if not shipped and config.env.kwargs["length"] != cell.length:
        set_value(config, "memory.max_span", 2 * cell.length + 10)
        rate = min(MAX_SPAN_LEARNING_RATE, SPAN_RATE_TIMES_LENGTH / cell.length)
        set_value(config, "ppo.span_learning_rate", rate)
        kwargs = {key: value for key, value in config.env.kwargs.items() if key != "max_steps"}
        config.env.kwargs = {**kwargs, "length": cell.length, "start_jitter": cell.length - 1}
    set_value(config, "memory.kind", cell.kind)
    set_value(config, "memory.window", max(1, cell.length // 2))
    settings = {
        "train.total_steps": cell.total_steps,
        "train.seed": cell.seed,
        "train.eval_interval": 0,
        "train.checkpoint_interval": 0,
        "train.device": "cpu",
        "train.torch_threads": 1,
        "log.wandb": "off",
        "log.tensorboard": False,
    }
    for key, value in settings.items():
        set_value(config, key, value)
    return apply_overrides(config, [*cell.agent_overrides(), *cell.overrides])


class LearningCurveCallback(BaseCallback):
    """Record the training success rate at every rollout end; stop at a target or a time cap.

    The success rate is the fraction of the last ``window`` finished training episodes whose
    final info has a true ``is_success`` (actions sampled from the policy, as in training).

    Args:
        window: Episodes in the rolling success rate.
        target: Success rate that counts as solved. ``steps_to_target`` is the env step count
            at the first rollout end where the rate over a full window reaches it.
        stop_at_target: Stop training when the target is reached.
        max_wall_time_s: Stop training at the first rollout end after this many seconds.
    """

    def __init__(
        self,
        window: int = 100,
        target: float = 0.95,
        stop_at_target: bool = True,
        max_wall_time_s: float | None = None,
    ) -> None:
        super().__init__()
        self.window = window
        self.target = target
        self.stop_at_target = stop_at_target
        self.max_wall_time_s = max_wall_time_s
        self.successes: deque[bool] = deque(maxlen=window)
        self.curve: list[tuple[int, float | None]] = []
        self.steps_to_target: int | None = None
        self.stop_reason = "budget"
        self._stop = False
        self._started = 0.0

    def _on_training_start(self) -> None:
        self._started = time.perf_counter()

    def _on_step(self) -> bool:
        for info, done in zip(self.locals["infos"], self.locals["dones"], strict=True):
            if done and "is_success" in info:
                self.successes.append(bool(info["is_success"]))
        return not self._stop

    def _on_rollout_end(self) -> None:
        rate = sum(self.successes) / len(self.successes) if self.successes else None
        self.curve.append((self.num_timesteps, rate))
        full = len(self.successes) == self.window
        if self.steps_to_target is None and full and rate is not None and rate >= self.target:
            self.steps_to_target = self.num_timesteps
            if self.stop_at_target:
                self._stop, self.stop_reason = True, "target"
        elapsed = time.perf_counter() - self._started
        if self.max_wall_time_s is not None and elapsed >= self.max_wall_time_s and not self._stop:
            self._stop, self.stop_reason = True, "wall-cap"


def run_cell(cell: Cell, run_dir: Path) -> dict[str, Any]:
    """Train one cell in ``run_dir`` and return its result (JSON-ready).

    The result contains the cell, the final evaluation record (as in ``eval.json``), the
    learning curve, the env steps at which the target was reached (None if never), why
    training stopped ('budget', 'target' or 'wall-cap') and the training throughput.
    """
    from rl_memory.training import set_wandb_hook, train
    from rl_memory.training.hooks import installed_wandb_hook

    config = corridor_config(cell)
    callback = LearningCurveCallback(
        cell.window, cell.target, cell.stop_at_target, cell.max_wall_time_s
    )
    # The viz hook records episodes when training ends, inside the timed learn() call. A cell
    # measures training alone, so it gets a hook that adds nothing.
    previous_hook = installed_wandb_hook()
    set_wandb_hook(lambda request: None)
    try:
        record = train(config, run_dir, callbacks=[callback])
    finally:
        set_wandb_hook(previous_hook)
    train_time = record["wall_time_s"]["train"]
    return {
        "cell": asdict(cell),
        "frame_stack": config.memory.frame_stack,
        "n_envs": config.env.n_envs,
        "evaluation": record,
        "curve": callback.curve,
        "steps_to_target": callback.steps_to_target,
        "stop_reason": callback.stop_reason,
        "env_steps_per_s": record["env_steps"] / train_time if train_time else None,
    }


def main(argv: list[str]) -> int:
    """Run the cell of ``SPEC.json`` (a ``Cell`` and a ``run_dir``) and write ``RESULT.json``."""
    if len(argv) != 2:
        print("usage: python -m rl_memory.bench SPEC.json RESULT.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    result = run_cell(Cell(**spec["cell"]), Path(spec["run_dir"]))
    Path(argv[1]).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0
