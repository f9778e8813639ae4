"""Observation encoders: one module maps any supported observation to a feature vector.

Dimension letters: B batch, D features, H and W grid height and width, C grid channels,
S mission tokens, E embedding width.

The encoder reads observations in their *raw* form, as a VecEnv returns them:

- a 3-D integer ``Box`` is a grid of categorical indices per cell, such as Minigrid's symbolic
  image (object, colour and state indices). Each channel's index is embedded; nothing is
  divided by 255, because the values are indices, not intensities;
- ``Discrete`` is an index, embedded;
- ``MultiDiscrete`` under the key ``"mission"`` is a sequence of token ids with 0 as padding,
  embedded and pooled over the non-padding tokens (mean, or the last state of a GRU);
- any other ``Box``, ``MultiBinary`` or ``MultiDiscrete`` is flattened (``MultiDiscrete`` as
  concatenated one-hot vectors) and passed through an MLP;
- a flat ``Dict`` of those encodes each entry and mixes the concatenation with one linear
  layer.

``MemoryFeaturesExtractor`` wraps the same encoder for SB3's ``PPO`` and sb3-contrib's
``RecurrentPPO``. SB3 preprocesses observations before the extractor (one-hot ``Discrete``,
image scaling). Those baselines must therefore pass ``normalize_images=False`` in
``policy_kwargs``, and the extractor raises a ``ValueError`` when it receives a scaled grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.preprocessing import is_image_space_channels_first
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import Tensor, nn

MissionEncoderKind = Literal["mean", "gru"]
MISSION_KEY = "mission"

SUPPORTED_SPACES = (
    "Box (a 3-D integer Box is read as a grid of categorical indices), Discrete, "
    "MultiDiscrete, MultiBinary, or a flat Dict of those"
)


@dataclass
class EncoderConfig:
    """Sizes of the observation encoder; one YAML section maps onto it."""

    features_dim: int = 64
    """D: width of the encoder's output."""
    embedding_dim: int = 8
    """E: width of the embedding of each grid channel index and of discrete observations."""
    grid_channels: tuple[int, ...] = ()
    """Output channels of 3x3 convolutions over the embedded grid, one entry per layer. The
    default, no convolution, flattens the embedded grid into the output layer, which trains
    about twice as fast as two convolutions on a 7x7 Minigrid view."""
    token_embedding_dim: int = 16
    """Width of the mission token embedding (and of the GRU state for ``mission_encoder='gru'``)."""
    mission_encoder: MissionEncoderKind = "mean"
    """'mean': mean of the non-padding token embeddings; 'gru': GRU state at the last token."""
    mlp_hidden: int = 64
    """Hidden width of the MLP applied to flat vector observations."""


def _validate_config(config: EncoderConfig) -> None:
    for name in ("features_dim", "embedding_dim", "token_embedding_dim", "mlp_hidden"):
        value = getattr(config, name)
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"EncoderConfig.{name}={value!r} is invalid: use a positive integer.")
    if any(not isinstance(c, int) or c < 1 for c in config.grid_channels):
        raise ValueError(
            f"EncoderConfig.grid_channels={config.grid_channels!r} is invalid: "
            "use a list of positive integers, one per convolution layer."
        )
    if config.mission_encoder not in ("mean", "gru"):
        raise ValueError(
            f"EncoderConfig.mission_encoder={config.mission_encoder!r} is invalid: "
            "use 'mean' or 'gru'."
        )


def _unsupported(space: spaces.Space, where: str, reason: str) -> ValueError:
    return ValueError(
        f"Observation space {space} at {where} is not supported: {reason}. "
        f"Supported spaces: {SUPPORTED_SPACES}. Flatten or convert the observation with a "
        "gymnasium wrapper first."
    )


class GridEncoder(nn.Module):
    """Embed each channel's categorical index per cell, then apply optional 3x3 convolutions.

    Input: [B, H, W, C] (or [B, C, H, W] when ``channels_first``) integer indices, of any
    dtype. Output: [B, out_dim].
    """

    def __init__(self, space: spaces.Box, config: EncoderConfig) -> None:
        super().__init__()
        self.channels_first = bool(is_image_space_channels_first(space))
        if self.channels_first:
            n_channels, height, width = space.shape
            high = np.asarray(space.high).reshape(n_channels, -1).max(axis=1)
        else:
            height, width, n_channels = space.shape
            high = np.asarray(space.high).reshape(-1, n_channels).max(axis=0)
        vocab_sizes = [int(h) + 1 for h in high]
        # One table for all channels: channel c's index v is row offsets[c] + v.
        offsets = np.concatenate([[0], np.cumsum(vocab_sizes)[:-1]])
        self.offsets: Tensor
        self.register_buffer(
            "offsets", torch.as_tensor(offsets, dtype=torch.long), persistent=False
        )
        self.embedding = nn.Embedding(int(sum(vocab_sizes)), config.embedding_dim)

        layers: list[nn.Module] = []
        in_channels = n_channels * config.embedding_dim
        for out_channels in config.grid_channels:
            layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
            in_channels = out_channels
        self.conv = nn.Sequential(*layers)
        self.out_dim = in_channels * height * width

    def forward(self, grid: Tensor) -> Tensor:
        indices = grid.long()
        if self.channels_first:
            indices = indices.permute(0, 2, 3, 1)  # [B, C, H, W] -> [B, H, W, C]
        embedded = self.embedding(indices + self.offsets)  # [B, H, W, C, E]
        batch, height, width = embedded.shape[:3]
        embedded = embedded.reshape(batch, height, width, -1).permute(0, 3, 1, 2)  # [B, C*E, H, W]
        return self.conv(embedded).flatten(start_dim=1)


class DiscreteEncoder(nn.Module):
    """Embed a ``Discrete`` observation. Input: [B] or [B, 1] indices. Output: [B, E]."""

    def __init__(self, space: spaces.Discrete, config: EncoderConfig) -> None:
        super().__init__()
        self.start = int(space.start)
        self.embedding = nn.Embedding(int(space.n), config.embedding_dim)
        self.out_dim = config.embedding_dim

    def forward(self, index: Tensor) -> Tensor:
        return self.embedding(index.long().reshape(-1) - self.start)


class MissionEncoder(nn.Module):
    """Pool the embeddings of a padded token sequence (token 0 = padding).

    Input: [B, S] token ids. Output: [B, token_embedding_dim]; all zeros for a blank mission
    with the mean encoder.
    """

    def __init__(self, space: spaces.MultiDiscrete, config: EncoderConfig) -> None:
        super().__init__()
        vocab_size = int(np.max(space.nvec))
        self.embedding = nn.Embedding(vocab_size, config.token_embedding_dim, padding_idx=0)
        self.kind = config.mission_encoder
        self.gru = (
            nn.GRU(config.token_embedding_dim, config.token_embedding_dim, batch_first=True)
            if self.kind == "gru"
            else None
        )
        self.out_dim = config.token_embedding_dim

    def forward(self, tokens: Tensor) -> Tensor:
        tokens = tokens.long()
        embedded = self.embedding(tokens)  # [B, S, E]
        not_padding = tokens != 0  # [B, S]
        if self.gru is None:
            n_tokens = not_padding.sum(dim=1, keepdim=True).clamp(min=1)  # [B, 1]
            return embedded.sum(dim=1) / n_tokens
        states, _ = self.gru(embedded)  # [B, S, E]
        # State after the last non-padding token; index 0 for a blank mission.
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        last = (not_padding * positions).amax(dim=1)  # [B]
        return states[torch.arange(tokens.shape[0], device=tokens.device), last]


class VectorEncoder(nn.Module):
    """Flatten a vector observation (``MultiDiscrete`` as one-hot vectors) into an MLP.

    Input: [B, ...]. Output: [B, mlp_hidden].
    """

    def __init__(self, space: spaces.Space, config: EncoderConfig) -> None:
        super().__init__()
        self.nvec: list[int] | None = None
        if isinstance(space, spaces.MultiDiscrete):
            self.nvec = [int(n) for n in np.asarray(space.nvec).reshape(-1)]
            start = torch.as_tensor(np.asarray(space.start).reshape(-1), dtype=torch.long)
            self.start: Tensor
            self.register_buffer("start", start, persistent=False)
            in_dim = sum(self.nvec)
        else:
            assert space.shape is not None
            in_dim = int(np.prod(space.shape))
        self.mlp = nn.Sequential(nn.Linear(in_dim, config.mlp_hidden), nn.ReLU())
        self.out_dim = config.mlp_hidden

    def forward(self, obs: Tensor) -> Tensor:
        flat = obs.reshape(obs.shape[0], -1)
        if self.nvec is not None:
            indices = flat.long() - self.start
            one_hots = [
                nn.functional.one_hot(column, n)
                for column, n in zip(indices.unbind(dim=1), self.nvec, strict=True)
            ]
            flat = torch.cat(one_hots, dim=1)
        return self.mlp(flat.float())


def _is_grid(space: spaces.Space) -> bool:
    return (
        isinstance(space, spaces.Box)
        and len(space.shape) == 3
        and np.issubdtype(space.dtype, np.integer)
    )


def _build_part(space: spaces.Space, key: str | None, config: EncoderConfig) -> nn.Module:
    where = "the top level" if key is None else f"key {key!r}"
    if isinstance(space, spaces.Box):
        if not np.all(np.isfinite(space.low)) and np.issubdtype(space.dtype, np.integer):
            raise _unsupported(space, where, "an integer Box needs finite bounds")
        if _is_grid(space):
            if np.any(space.low < 0):
                raise _unsupported(space, where, "grid indices must be non-negative")
            return GridEncoder(space, config)
        if len(space.shape) == 3:
            raise _unsupported(space, where, "pixel images (3-D float Box) are not encoded")
        return VectorEncoder(space, config)
    if isinstance(space, spaces.Discrete):
        return DiscreteEncoder(space, config)
    if isinstance(space, spaces.MultiDiscrete):
        if key == MISSION_KEY:
            if len(space.shape) != 1 or np.any(space.start != 0):
                raise _unsupported(
                    space, where, "a mission must be a 1-D sequence of token ids starting at 0"
                )
            return MissionEncoder(space, config)
        return VectorEncoder(space, config)
    if isinstance(space, spaces.MultiBinary):
        return VectorEncoder(space, config)
    if isinstance(space, spaces.Dict):
        raise _unsupported(space, where, "nested Dict spaces are not encoded")
    raise _unsupported(space, where, f"{type(space).__name__} spaces are not encoded")


class ObservationEncoder(nn.Module):
    """Map a batch of raw observations to features: [B, ...] or a dict of those -> [B, D].

    Args:
        observation_space: the VecEnv's observation space; see the module docstring for what
            each kind of space becomes.
        config: sizes of the encoder.

    Raises:
        ValueError: for an observation space it cannot encode, naming the space.
    """

    def __init__(self, observation_space: spaces.Space, config: EncoderConfig | None = None):
        super().__init__()
        config = config if config is not None else EncoderConfig()
        _validate_config(config)
        self.observation_space = observation_space
        self.config = config
        self.features_dim = config.features_dim

        if isinstance(observation_space, spaces.Dict):
            if len(observation_space.spaces) == 0:
                raise _unsupported(observation_space, "the top level", "the Dict is empty")
            self.keys: list[str] | None = list(observation_space.spaces)
            parts = {k: _build_part(s, k, config) for k, s in observation_space.spaces.items()}
        else:
            self.keys = None
            parts = {"obs": _build_part(observation_space, None, config)}
        self.parts = nn.ModuleDict(parts)
        in_dim = sum(int(part.out_dim) for part in self.parts.values())  # type: ignore[misc, arg-type]
        self.head = nn.Sequential(nn.Linear(in_dim, config.features_dim), nn.ReLU())

    def forward(self, obs: Tensor | dict[str, Tensor]) -> Tensor:
        """Encode a batch of observations.

        Args:
            obs: a tensor [B, ...] or, for a Dict space, a dict of tensors [B, ...], in the
                space's own layout and dtype (integer indices stay indices).

        Returns:
            features [B, D].
        """
        if self.keys is None:
            assert isinstance(obs, Tensor), "a non-Dict space expects a tensor"
            parts = [self.parts["obs"](obs)]
        else:
            assert isinstance(obs, dict), "a Dict space expects a dict of tensors"
            parts = [self.parts[k](obs[k]) for k in self.keys]
        return self.head(torch.cat(parts, dim=1))


def _undo_sb3_preprocessing(obs: Tensor, space: spaces.Space, key: str | None) -> Tensor:
    """Turn an observation preprocessed by SB3's ``preprocess_obs`` back into its raw form."""
    if isinstance(space, spaces.Discrete):
        # One-hot [B, n], or [B, 1, n] for observations read back from a rollout buffer.
        return obs.argmax(dim=-1).reshape(obs.shape[0])
    if isinstance(space, spaces.MultiDiscrete):
        nvec = [int(n) for n in np.asarray(space.nvec).reshape(-1)]
        chunks = torch.split(obs, nvec, dim=1)  # concatenated one-hot vectors
        return torch.stack([chunk.argmax(dim=1) for chunk in chunks], dim=1)
    if _is_grid(space) and torch.is_floating_point(obs) and bool((obs != obs.round()).any()):
        where = "the top level" if key is None else f"key {key!r}"
        raise ValueError(
            f"The grid observation at {where} arrived scaled (non-integer values), so its "
            "categorical indices are lost. Pass policy_kwargs=dict(normalize_images=False, "
            "features_extractor_class=MemoryFeaturesExtractor, ...) to the SB3 algorithm."
        )
    return obs


class MemoryFeaturesExtractor(BaseFeaturesExtractor):
    """SB3 features extractor around ``ObservationEncoder``, for PPO and RecurrentPPO baselines.

    Use it with ``normalize_images=False``, because SB3 otherwise divides a uint8 grid by 255:

        PPO("MultiInputPolicy", env, policy_kwargs=dict(
            features_extractor_class=MemoryFeaturesExtractor,
            features_extractor_kwargs=dict(config=EncoderConfig()),
            normalize_images=False,
        ))

    SB3's one-hot encoding of ``Discrete`` and ``MultiDiscrete`` entries is undone (argmax)
    before the encoder, so the baselines and ``MemoryPolicy`` see identical inputs.

    Args:
        observation_space: the policy's observation space.
        config: sizes of the encoder; ``features_dim`` is the extractor's output width.
    """

    def __init__(self, observation_space: spaces.Space, config: EncoderConfig | None = None):
        config = config if config is not None else EncoderConfig()
        super().__init__(observation_space, config.features_dim)
        self.encoder = ObservationEncoder(observation_space, config)

    def forward(self, observations: Tensor | dict[str, Tensor]) -> Tensor:
        if isinstance(observations, dict):
            assert isinstance(self._observation_space, spaces.Dict)
            raw: Tensor | dict[str, Tensor] = {
                key: _undo_sb3_preprocessing(value, self._observation_space[key], key)
                for key, value in observations.items()
            }
        else:
            raw = _undo_sb3_preprocessing(observations, self._observation_space, None)
        return self.encoder(raw)
