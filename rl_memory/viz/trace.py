"""One recorded episode with what the agent's memory held at every step.

A trace is stored column-wise so that figures and metrics read it without loops over
Python objects: ``actions[t]``, ``rewards[t]`` and ``frames[t]`` belong to the observation
with episode step ``t`` (step 0 is the reset observation), and ``layers[l].memory_step[t]``
lists the memories that the query of step ``t`` attended in layer ``l``.

Dimension letters: T steps of the episode, M memories attended by one query, H heads,
N layers, and (h, w) the pixel size of a rendered frame.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rl_memory.memory.base import MemoryDiagnostics

logger = logging.getLogger(__name__)

PolicyStep = Callable[[Any, Any, np.ndarray], tuple[Any, Any, MemoryDiagnostics | None]]
"""``(obs, state, episode_start) -> (action, state, diagnostics)`` for one env.

``obs`` is one unbatched observation, ``state`` whatever the policy carries between steps
(``None`` before the first step), ``episode_start`` a [1] bool array. The diagnostics must
come from a memory step run with ``return_attention=True``; ``None`` means the policy has no
memory to show.
"""

FrameSource = Callable[[Any], "np.ndarray | None"]


@dataclass
class LayerTrace:
    """Contents of one memory layer at each step of an episode (all lists have length T)."""

    memory_step: list[np.ndarray] = field(default_factory=list)
    """[M_t] int: episode step of each memory the query of step t attended."""
    mask: list[np.ndarray] = field(default_factory=list)
    """[M_t] float in [0, 1]: soft mask m_ti of each of those memories (1 without expiry)."""
    attention: list[np.ndarray | None] = field(default_factory=list)
    """[H, M_t] float: attention weights of the query of step t, or None if not returned."""
    memory_span: list[np.ndarray | None] = field(default_factory=list)
    """[M_t] float: current span e_i of each attended memory, or None without expiry."""
    span: list[float] = field(default_factory=list)
    """Predicted span e_t of the frame of step t (NaN without expiry)."""

    def spans(self) -> np.ndarray:
        """Return the predicted span of every frame, shape [T] (NaN without expiry)."""
        return np.asarray(self.span, dtype=np.float64)

    def retained(self) -> np.ndarray:
        """Return the number of memories each query attended, shape [T]."""
        return np.asarray([len(steps) for steps in self.memory_step], dtype=np.int64)

    def mean_attention(self, step: int) -> np.ndarray | None:
        """Return the attention of the query of ``step`` averaged over heads, shape [M]."""
        weights = self.attention[step]
        if weights is None:
            return None
        return weights.mean(axis=0)


@dataclass
class EpisodeTrace:
    """One episode recorded step by step, with the memory's diagnostics per layer."""

    env_id: str
    actions: list[Any] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    frames: list[np.ndarray] | None = None
    """T x [h, w, 3] uint8: what the agent saw at each step, or None if not rendered."""
    layers: list[LayerTrace] = field(default_factory=list)
    cue_steps: tuple[int, ...] = ()
    """Steps at which the cue (or instruction) was visible, from the env's info."""
    recall_step: int = -1
    """Step at which the remembered fact had to be used; -1 if the episode never got there."""
    recall_correct: bool | None = None
    is_success: bool | None = None
    max_span: float | None = None
    """L_max of the memory, for the span figure's axis (None if unknown)."""
    ramp: float | None = None
    """R: steps over which an expired memory's mask falls to 0 (None if unknown)."""
    memory_kind: str | None = None

    @property
    def length(self) -> int:
        """Number of steps recorded (observations at which the policy acted)."""
        return len(self.actions)

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def episode_return(self) -> float:
        return float(np.sum(self.rewards)) if self.rewards else 0.0

    @property
    def has_recall(self) -> bool:
        """True if the episode reached its recall step and a cue step was reported."""
        return bool(self.cue_steps) and 0 <= self.recall_step < self.length

    def cue_in_memory(self, step: int, layer: int | None = None) -> bool:
        """Return True if a cue frame had a mask above 0 for the query of ``step``.

        Args:
            step: the query's episode step.
            layer: the layer to look at; None means any layer.
        """
        layers = self.layers if layer is None else [self.layers[layer]]
        cues = np.asarray(self.cue_steps, dtype=np.int64)
        for layer_trace in layers:
            kept = layer_trace.memory_step[step][layer_trace.mask[step] > 0]
            if np.isin(cues, kept).any():
                return True
        return False


def default_frame_source(env: Any) -> np.ndarray | None:
    """Render what the agent sees: Minigrid's egocentric view, else ``env.render()``.

    The egocentric view is what a memory holds, and it stays small (7 x 7 tiles of 8 pixels)
    on long corridors whose full render would be thousands of pixels wide.
    """
    unwrapped = getattr(env, "unwrapped", env)
    if hasattr(unwrapped, "get_pov_render"):
        return np.asarray(unwrapped.get_pov_render(tile_size=8), dtype=np.uint8)
    if getattr(env, "render_mode", None) == "rgb_array":
        frame = env.render()
        return None if frame is None else np.asarray(frame, dtype=np.uint8)
    return None


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def append_diagnostics(
    trace: EpisodeTrace, diagnostics: MemoryDiagnostics | None, env_index: int = 0
) -> None:
    """Append one acting step's diagnostics (env ``env_index`` of the batch) to ``trace``.

    Args:
        trace: the trace to extend; its layers are created on the first call.
        diagnostics: from ``EpisodeMemory.step(..., return_attention=True)``: ``memory_step``
            and ``mask`` are N x [B, M] (padded with step -1), ``attention`` N x [B, H, M],
            ``span`` [N, B]. None, or a kind without per-memory fields, adds nothing.
        env_index: which env of the batch was recorded.
    """
    if diagnostics is None or diagnostics.memory_step is None:
        return
    n_layers = len(diagnostics.memory_step)
    while len(trace.layers) < n_layers:
        trace.layers.append(LayerTrace())
    spans = None if diagnostics.span is None else _to_numpy(diagnostics.span)
    for index, layer in enumerate(trace.layers[:n_layers]):
        steps = _to_numpy(diagnostics.memory_step[index][env_index]).astype(np.int64)
        valid = steps >= 0
        if diagnostics.mask is not None:
            mask = _to_numpy(diagnostics.mask[index][env_index]).astype(np.float32)[valid]
        else:
            mask = np.ones(int(valid.sum()), dtype=np.float32)
        attention = None
        if diagnostics.attention is not None:
            weights = _to_numpy(diagnostics.attention[index][env_index]).astype(np.float32)
            attention = weights[:, valid]
        memory_span = None
        if diagnostics.memory_span is not None:
            memory_span = _to_numpy(diagnostics.memory_span[index][env_index])[valid]
        layer.memory_step.append(steps[valid])
        layer.mask.append(mask)
        layer.attention.append(attention)
        layer.memory_span.append(memory_span)
        layer.span.append(float("nan") if spans is None else float(spans[index, env_index]))


def _read_key_steps(trace: EpisodeTrace, info: Mapping[str, Any]) -> None:
    if "cue_steps" in info:
        trace.cue_steps = tuple(int(step) for step in info["cue_steps"])
    if int(info.get("recall_step", -1)) >= 0:
        trace.recall_step = int(info["recall_step"])
    if "recall_correct" in info:
        trace.recall_correct = bool(info["recall_correct"])
    if "is_success" in info:
        trace.is_success = bool(info["is_success"])


def record_episode(
    policy: PolicyStep,
    env: Any,
    *,
    env_id: str = "",
    seed: int | None = None,
    max_steps: int | None = None,
    render: bool = True,
    frame_source: FrameSource = default_frame_source,
) -> EpisodeTrace:
    """Run ``policy`` for one episode on ``env`` and record its memory at every step.

    Args:
        policy: one-env policy step, see ``PolicyStep``.
        env: a Gymnasium env (not vectorised), e.g. from ``rl_memory.envs.make_env``.
        env_id: stored in the trace for titles.
        seed: passed to ``env.reset``.
        max_steps: stop after this many steps even if the episode goes on (None: no limit).
        render: store a frame per step from ``frame_source``.
        frame_source: returns the frame to store for the env's current observation.

    Returns:
        The trace; ``trace.length`` steps, one per action taken.
    """
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be at least 1 or None, got {max_steps}")
    trace = EpisodeTrace(env_id=env_id, frames=[] if render else None)
    obs, info = env.reset(seed=seed)
    _read_key_steps(trace, info)
    state: Any = None
    episode_start = np.ones(1, dtype=bool)
    while max_steps is None or trace.length < max_steps:
        if trace.frames is not None:
            frame = frame_source(env)
            if frame is None:
                logger.info("The env returned no frame; recording without frames.")
                trace.frames = None
            else:
                trace.frames.append(frame)
        action, state, diagnostics = policy(obs, state, episode_start)
        append_diagnostics(trace, diagnostics)
        obs, reward, terminated, truncated, info = env.step(action)
        trace.actions.append(action)
        trace.rewards.append(float(reward))
        _read_key_steps(trace, info)
        episode_start = np.zeros(1, dtype=bool)
        if terminated or truncated:
            break
    return trace


def memory_policy_step(policy: Any, deterministic: bool = True) -> PolicyStep:
    """Adapt a ``MemoryPolicy`` (``rl_memory.agents.policy``) to ``PolicyStep``.

    Each call encodes one observation, steps the policy's memory with
    ``return_attention=True`` and picks the action from the policy head, as
    ``MemoryPolicy.forward`` does, without gradients.

    Args:
        policy: a ``MemoryPolicy``, e.g. ``model.policy`` of an ``ExpireSpanPPO``.
        deterministic: take the most likely action instead of sampling.
    """
    import torch

    def step(obs: Any, state: Any, episode_start: np.ndarray) -> tuple[Any, Any, Any]:
        policy.set_training_mode(False)
        obs_tensor, _ = policy.obs_to_tensor(obs)
        if state is None:
            state = policy.initial_state(1)
        starts = torch.as_tensor(episode_start, device=policy.device).bool().reshape(1)
        with torch.no_grad():
            # NOTE: mirrors MemoryPolicy.forward, which has no return_attention argument.
            features = policy._encode(obs_tensor)  # [1, D]
            out, state, diagnostics = policy.memory.step(
                features, state, starts, return_attention=True
            )
            distribution = policy._distribution(policy.pi_net(out))
            actions = distribution.get_actions(deterministic=deterministic)
        action = actions.cpu().numpy().reshape((-1, *policy.action_space.shape))[0]
        return action, state, diagnostics

    return step


def model_policy_step(model: Any, deterministic: bool = True) -> PolicyStep:
    """Adapt an SB3 model to ``PolicyStep``: its memory if it has one, else ``predict``.

    Models without an episode memory (SB3 PPO, RecurrentPPO) give traces without layers:
    their episodes still record frames, actions and key steps, but no memory figures.
    """
    policy = getattr(model, "policy", model)
    if hasattr(policy, "memory") and hasattr(policy.memory, "step"):
        return memory_policy_step(policy, deterministic)

    def step(obs: Any, state: Any, episode_start: np.ndarray) -> tuple[Any, Any, Any]:
        action, state = model.predict(
            obs, state=state, episode_start=episode_start, deterministic=deterministic
        )
        return action, state, None

    return step


def describe_memory(trace: EpisodeTrace, policy: Any) -> None:
    """Copy the memory's kind, maximum span and ramp from ``policy.memory.config``."""
    config = getattr(getattr(policy, "memory", None), "config", None)
    if config is None:
        return
    trace.memory_kind = getattr(config, "kind", None)
    if trace.memory_kind == "expire-span":
        trace.max_span = float(config.max_span)
        trace.ramp = float(config.ramp)
