"""The baselines the memory agents are compared with, built from the same run configuration.

Each baseline reads observations through the memory agents' ``ObservationEncoder`` (as
``MemoryFeaturesExtractor``, with ``normalize_images=False``). It also has the same policy and
value heads as ``MemoryPolicy``, one hidden layer of 64 units each. So a difference in results
comes from the memory alone:

- ``"lstm"``: sb3-contrib's ``RecurrentPPO`` (``MultiInputLstmPolicy`` for ``Dict``
  observations, ``MlpLstmPolicy`` otherwise). The actor and the critic each get an LSTM with
  ``memory.d_model`` units per layer and ``memory.n_layers`` layers on top of the encoder.
- ``"frame-stack"``: SB3's ``PPO`` over SB3's ``VecFrameStack`` of the last
  ``memory.frame_stack`` observations. Each stacked frame goes through the same encoder (shared
  weights) and the policy reads the concatenated features, oldest frame first.
- ``"none"``: SB3's ``PPO`` on the current observation only.

Minibatches hold ``ppo.batch_envs * ppo.n_steps`` transitions, the amount of data in one
minibatch of ``batch_envs`` env chunks of the memory agents.

Frame stack size: ``memory.frame_stack = 0`` (the default) picks it from the task. For an env
with a ``length`` attribute (the corridor) it is ``length + 2 * n_colors + 4`` observations:
the cue is in view at observation 0, the agent reaches the hallway at observation ``length``
or earlier, and the remaining ``2 * n_colors + 4`` frames leave room for the turns into an arm
and for a few detours. Other envs need an explicit ``memory.frame_stack``. The chosen size is
written back into ``config.memory.frame_stack`` when the env is wrapped, so the run folder and
its checkpoints record it, and an evaluation on a longer corridor keeps the trained stack.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecFrameStack
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn
from torch import Tensor

from rl_memory.agents.encoder import EncoderConfig, MemoryFeaturesExtractor, ObservationEncoder
from rl_memory.config import RunConfig

# Policy and value heads of every baseline: the default heads of MemoryPolicy.
BASELINE_NET_ARCH: dict[str, list[int]] = {"pi": [64], "vf": [64]}

# Frames added to the corridor length by the automatic frame stack size, per colour and fixed.
FRAME_STACK_FRAMES_PER_COLOR = 2
FRAME_STACK_SLACK = 4


def _policy_name(env: VecEnv, dict_policy: str, flat_policy: str) -> str:
    return dict_policy if isinstance(env.observation_space, spaces.Dict) else flat_policy


def _encoder_policy_kwargs(
    config: RunConfig,
    extractor: type[BaseFeaturesExtractor] = MemoryFeaturesExtractor,
    **extractor_kwargs: Any,
) -> dict[str, Any]:
    return {
        "features_extractor_class": extractor,
        "features_extractor_kwargs": {"config": copy.deepcopy(config.encoder), **extractor_kwargs},
        "normalize_images": False,
        "net_arch": copy.deepcopy(BASELINE_NET_ARCH),
    }


def _ppo_arguments(config: RunConfig) -> dict[str, Any]:
    # Imported here: rl_memory.training.algorithms imports this module.
    from rl_memory.training.algorithms import ppo_kwargs

    arguments = ppo_kwargs(config)
    arguments["batch_size"] = config.ppo.batch_envs * config.ppo.n_steps
    return arguments


# No memory ---------------------------------------------------------------------------------


def ppo_class() -> type[BaseAlgorithm]:
    """Return SB3's ``PPO``, the algorithm of the ``none`` and ``frame-stack`` baselines."""
    from stable_baselines3 import PPO

    return PPO


def build_ppo(config: RunConfig, env: VecEnv) -> BaseAlgorithm:
    """Build SB3's ``PPO`` without memory, with the memory agents' encoder and heads."""
    from stable_baselines3 import PPO

    return PPO(
        _policy_name(env, "MultiInputPolicy", "MlpPolicy"),
        env,
        policy_kwargs=_encoder_policy_kwargs(config),
        **_ppo_arguments(config),
    )


# LSTM --------------------------------------------------------------------------------------


def recurrent_ppo_class() -> type[BaseAlgorithm]:
    """Return sb3-contrib's ``RecurrentPPO``, the algorithm of the ``lstm`` baseline."""
    from sb3_contrib import RecurrentPPO

    return RecurrentPPO  # type: ignore[no-any-return]


def build_recurrent_ppo(config: RunConfig, env: VecEnv) -> BaseAlgorithm:
    """Build ``RecurrentPPO`` with LSTMs of ``memory.d_model`` units and ``memory.n_layers``."""
    from sb3_contrib import RecurrentPPO

    policy_kwargs = _encoder_policy_kwargs(config)
    policy_kwargs["lstm_hidden_size"] = config.memory.d_model
    policy_kwargs["n_lstm_layers"] = config.memory.n_layers
    return RecurrentPPO(  # type: ignore[no-any-return]
        _policy_name(env, "MultiInputLstmPolicy", "MlpLstmPolicy"),
        env,
        policy_kwargs=policy_kwargs,
        **_ppo_arguments(config),
    )


# Frame stacking ----------------------------------------------------------------------------


def frame_stack_size(config: RunConfig, env: VecEnv) -> int:
    """Return the number of frames to stack: ``memory.frame_stack``, or the task's rule if 0.

    Raises:
        ValueError: If ``memory.frame_stack`` is 0 and the env has no ``length`` attribute.
    """
    if config.memory.frame_stack > 0:
        return config.memory.frame_stack
    try:
        length = int(env.get_attr("length", indices=[0])[0])
        n_colors = int(env.get_attr("n_colors", indices=[0])[0])
    except AttributeError:
        raise ValueError(
            f"memory.frame_stack=0 picks the stack size from a corridor's length, but env "
            f"'{config.env.id}' has no 'length' and 'n_colors' attributes; set the number of "
            "frames to stack, e.g. --set memory.frame_stack=16"
        ) from None
    return length + FRAME_STACK_FRAMES_PER_COLOR * n_colors + FRAME_STACK_SLACK


def _index_box(space: spaces.Space) -> spaces.Space:
    """Return the integer ``Box`` that contains the same indices as a discrete space."""
    if isinstance(space, spaces.Discrete):
        low = int(space.start)
        return spaces.Box(low, low + int(space.n) - 1, shape=(1,), dtype=np.int64)
    if isinstance(space, spaces.MultiDiscrete):
        start = np.asarray(space.start)
        return spaces.Box(start, start + np.asarray(space.nvec) - 1, dtype=np.int64)
    return space


class VecIndexObservations(VecEnvWrapper):
    """Turn the ``Discrete`` and ``MultiDiscrete`` entries of observations into integer ``Box``es.

    SB3's ``VecFrameStack`` stacks ``Box`` observations only (SB3 2.9). The wrapper keeps the
    values (a ``Discrete`` entry becomes a ``[1]`` array), so ``StackedFramesExtractor`` can
    read the stacked frames back as the original observations.
    """

    def __init__(self, venv: VecEnv) -> None:
        space = venv.observation_space
        if isinstance(space, spaces.Dict):
            converted: spaces.Space = spaces.Dict(
                {key: _index_box(sub) for key, sub in space.spaces.items()}
            )
        else:
            converted = _index_box(space)
        super().__init__(venv, observation_space=converted)

    def _convert(self, obs: Any, batched: bool = True) -> Any:
        """Give every discrete entry a trailing axis: [B] -> [B, 1] (or [] -> [1] unbatched)."""
        if isinstance(obs, dict):
            return {key: self._convert(value, batched) for key, value in obs.items()}
        value = np.asarray(obs)
        return value[..., None] if value.ndim == (1 if batched else 0) else value

    def reset(self) -> VecEnvObs:
        return self._convert(self.venv.reset())

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = self.venv.step_wait()
        for info in infos:
            if "terminal_observation" in info:
                info["terminal_observation"] = self._convert(
                    info["terminal_observation"], batched=False
                )
        return self._convert(obs), rewards, dones, infos


def wrap_frame_stack(env: VecEnv, config: RunConfig) -> VecEnv:
    """Stack the last ``frame_stack_size`` observations, writing the size into ``config``."""
    n_stack = frame_stack_size(config, env)
    config.memory.frame_stack = n_stack
    return VecFrameStack(VecIndexObservations(env), n_stack=n_stack, channels_order="last")


def _frame_shapes(stacked: spaces.Space, n_stack: int) -> dict[str, tuple[int, ...]]:
    """Return the shape of each entry of one frame of a stack built by ``wrap_frame_stack``."""
    entries = stacked.spaces if isinstance(stacked, spaces.Dict) else {"": stacked}
    shapes = {}
    for key, space in entries.items():
        assert isinstance(space, spaces.Box) and space.shape[-1] % n_stack == 0
        shapes[key] = (*space.shape[:-1], space.shape[-1] // n_stack)
    return shapes


class StackedFramesExtractor(BaseFeaturesExtractor):
    """Encode each frame of a stack with one ``ObservationEncoder`` and concatenate the features.

    Input: the stacked observations of ``wrap_frame_stack`` (K frames along the last axis of
    every entry, oldest first). Output: [B, K * D], where D is ``config.features_dim``. Frames
    reach the encoder in the layout of ``frame_space``, so it embeds a ``Discrete`` entry and
    pools a mission as it does for the memory agents.

    A batch of stacks contains each frame up to K times, and memory tasks repeat many views (a
    corridor looks the same at every cell). So the encoder runs once per distinct frame of the
    batch and the features are gathered back. Outputs and gradients equal those of encoding
    every frame; only the cost changes.

    Args:
        observation_space: the stacked observation space.
        config: sizes of the per-frame encoder.
        n_stack: K, the number of stacked frames.
        frame_space: the observation space of one frame, as the env returns it.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        config: EncoderConfig,
        n_stack: int,
        frame_space: spaces.Space,
    ) -> None:
        super().__init__(observation_space, n_stack * config.features_dim)
        self.n_stack = n_stack
        self.encoder = ObservationEncoder(frame_space, config)
        self.frame_shapes = _frame_shapes(observation_space, n_stack)
        # Random weights of a hash that finds the distinct frames of a batch.
        generator = torch.Generator().manual_seed(0)
        self.hash_weights = {
            key: torch.randint(1, 2**62, (*shape[:-1], 1, shape[-1]), generator=generator)
            for key, shape in self.frame_shapes.items()
        }

    def _frame_hash(self, key: str, view: Tensor) -> Tensor:
        """Hash every frame of one entry: [B, ..., K, C] integer view -> [B, K] int64."""
        weights = self.hash_weights[key].to(view.device)  # [..., 1, C], broadcast over K
        dims = [d for d in range(view.ndim) if d not in (0, view.ndim - 2)]
        return (view * weights).sum(dim=dims)  # int64 arithmetic wraps around on overflow

    def forward(self, observations: Tensor | dict[str, Tensor]) -> Tensor:
        stacked = observations if isinstance(observations, dict) else {"": observations}
        batch, n_stack = next(iter(stacked.values())).shape[0], self.n_stack
        # [B, ..., K * C] -> [B, ..., K, C]: frame k of an entry is view[:, ..., k, :].
        views = {
            key: stacked[key].long().reshape(*stacked[key].shape[:-1], n_stack, -1)
            for key in self.frame_shapes
        }
        frame_hash = torch.stack([self._frame_hash(k, v) for k, v in views.items()]).sum(0)
        _, inverse = torch.unique(frame_hash.reshape(-1), return_inverse=True)  # [B * K]
        positions = torch.arange(batch * n_stack, device=inverse.device)
        first = torch.full_like(positions[: int(inverse.max()) + 1], batch * n_stack)
        first = first.scatter_reduce(0, inverse, positions, reduce="amin")  # [U]
        frames = {
            key: view[first // n_stack, ..., first % n_stack, :] for key, view in views.items()
        }

        if not all(self._matches(view, frames[key][inverse]) for key, view in views.items()):
            # Two distinct frames share a hash (rare): encode every frame instead.
            frames = {
                key: view.movedim(-2, 1).reshape(batch * n_stack, *self.frame_shapes[key])
                for key, view in views.items()
            }
            inverse = positions
        features = self.encoder(frames if isinstance(observations, dict) else frames[""])
        return features[inverse].reshape(batch, -1)  # [U, D] -> [B * K, D] -> [B, K * D]

    def _matches(self, view: Tensor, frames: Tensor) -> bool:
        """Return whether frames [B * K, ..., C] are the frames of view [B, ..., K, C]."""
        batch = view.shape[0]
        return torch.equal(
            frames.reshape(batch, self.n_stack, *frames.shape[1:]).movedim(1, -2), view
        )


def build_frame_stack_ppo(config: RunConfig, env: VecEnv) -> BaseAlgorithm:
    """Build SB3's ``PPO`` for an env wrapped by ``wrap_frame_stack``.

    Raises:
        ValueError: If ``env`` is not a ``VecFrameStack``.
    """
    from stable_baselines3 import PPO

    if not (isinstance(env, VecFrameStack) and isinstance(env.venv, VecIndexObservations)):
        raise ValueError(
            f"the frame-stack baseline needs an env wrapped by wrap_frame_stack, got "
            f"{type(env).__name__}; build the env with rl_memory.training.build_agent_env"
        )
    n_stack = env.stacked_obs.n_stack
    frame_space = env.venv.venv.observation_space  # below VecFrameStack and VecIndexObservations
    policy_kwargs = _encoder_policy_kwargs(
        config, StackedFramesExtractor, n_stack=n_stack, frame_space=frame_space
    )
    return PPO(
        _policy_name(env, "MultiInputPolicy", "MlpPolicy"),
        env,
        policy_kwargs=policy_kwargs,
        **_ppo_arguments(config),
    )


__all__ = [
    "BASELINE_NET_ARCH",
    "StackedFramesExtractor",
    "VecIndexObservations",
    "build_frame_stack_ppo",
    "build_ppo",
    "build_recurrent_ppo",
    "frame_stack_size",
    "ppo_class",
    "recurrent_ppo_class",
    "wrap_frame_stack",
]
