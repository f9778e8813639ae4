"""ObservationEncoder and MemoryFeaturesExtractor: supported spaces, errors, SB3 parity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.utils import obs_as_tensor

from rl_memory.agents.encoder import EncoderConfig, MemoryFeaturesExtractor, ObservationEncoder


def _sample_batch(space: spaces.Space, batch: int, seed: int = 0) -> torch.Tensor | dict:
    space.seed(seed)
    samples = [space.sample() for _ in range(batch)]
    if isinstance(space, spaces.Dict):
        return {k: torch.as_tensor(np.stack([s[k] for s in samples])) for k in space.spaces}
    return torch.as_tensor(np.stack(samples))


@pytest.mark.parametrize("mission_encoder", ["mean", "gru"])
def test_dict_obs_features_shape(dict_space: spaces.Dict, mission_encoder: str) -> None:
    config = EncoderConfig(features_dim=24, mission_encoder=mission_encoder)  # type: ignore[arg-type]
    encoder = ObservationEncoder(dict_space, config)
    features = encoder(_sample_batch(dict_space, 5))
    assert features.shape == (5, 24)
    assert torch.isfinite(features).all()


def test_box_obs_features_shape(box_space: spaces.Box) -> None:
    encoder = ObservationEncoder(box_space, EncoderConfig(features_dim=16))
    assert encoder(_sample_batch(box_space, 3)).shape == (3, 16)


def test_grid_values_are_indices_not_intensities() -> None:
    # Index 1 and index 2 are different objects: without /255 scaling their embeddings differ
    # by a learned amount, not by 1/255.
    space = spaces.Box(0, 255, (5, 5, 3), np.uint8)
    encoder = ObservationEncoder(space, EncoderConfig())
    one = torch.ones(1, 5, 5, 3, dtype=torch.uint8)
    grid_part = encoder.parts["obs"]
    difference = (grid_part(one) - grid_part(one * 2)).abs().max()
    assert difference > 1e-3


def test_mission_padding_is_ignored() -> None:
    space = spaces.MultiDiscrete([10] * 4)
    encoder = ObservationEncoder(spaces.Dict({"mission": space}), EncoderConfig())
    mission = encoder.parts["mission"]
    short = torch.tensor([[3, 5, 0, 0]])
    assert torch.allclose(
        mission(short), (mission.embedding.weight[3] + mission.embedding.weight[5]) / 2
    )
    assert torch.equal(mission(torch.zeros(1, 4, dtype=torch.long)), torch.zeros(1, 16))


def test_channels_first_grid_matches_channels_last() -> None:
    last = ObservationEncoder(spaces.Box(0, 255, (6, 6, 3), np.uint8), EncoderConfig())
    first = ObservationEncoder(spaces.Box(0, 255, (3, 6, 6), np.uint8), EncoderConfig())
    first.load_state_dict(last.state_dict())
    grid = torch.randint(0, 11, (2, 6, 6, 3), dtype=torch.uint8)
    assert torch.allclose(last(grid), first(grid.permute(0, 3, 1, 2)))


@pytest.mark.parametrize(
    "space",
    [
        spaces.Tuple((spaces.Discrete(2), spaces.Discrete(3))),
        spaces.Dict({"inner": spaces.Dict({"x": spaces.Discrete(2)})}),
        spaces.Text(8),
        spaces.Box(0.0, 1.0, (8, 8, 3), np.float32),
    ],
    ids=["tuple", "nested-dict", "text", "float-image"],
)
def test_unsupported_space_raises(space: spaces.Space) -> None:
    with pytest.raises(ValueError, match="not supported") as error:
        ObservationEncoder(space, EncoderConfig())
    assert "Supported spaces" in str(error.value)


def test_invalid_config_raises(box_space: spaces.Box) -> None:
    with pytest.raises(ValueError, match="features_dim=0"):
        ObservationEncoder(box_space, EncoderConfig(features_dim=0))
    with pytest.raises(ValueError, match="mission_encoder='lstm'"):
        ObservationEncoder(box_space, EncoderConfig(mission_encoder="lstm"))  # type: ignore[arg-type]


def _ppo_with_extractor(tmaze: type, normalize_images: bool) -> PPO:
    env = make_vec_env(lambda: tmaze(dict_obs=True), n_envs=2, seed=0)
    policy_kwargs = dict(
        features_extractor_class=MemoryFeaturesExtractor,
        features_extractor_kwargs=dict(config=EncoderConfig(features_dim=16)),
        normalize_images=normalize_images,
    )
    return PPO("MultiInputPolicy", env, n_steps=8, batch_size=8, policy_kwargs=policy_kwargs)


def test_extractor_in_sb3_ppo_matches_encoder(tmaze: type) -> None:
    model = _ppo_with_extractor(tmaze, normalize_images=False)
    extractor = model.policy.features_extractor
    assert isinstance(extractor, MemoryFeaturesExtractor)

    obs = model.env.reset()
    obs_tensor = obs_as_tensor(obs, model.device)
    # SB3 transposes the uint8 grid to channels-first and one-hot encodes Discrete entries;
    # the extractor must see through both.
    sb3_features = model.policy.extract_features(obs_tensor, extractor)
    direct = extractor.encoder(obs_tensor)
    assert torch.allclose(sb3_features, direct)
    model.learn(16)


def test_extractor_rejects_scaled_grid(tmaze: type) -> None:
    model = _ppo_with_extractor(tmaze, normalize_images=True)
    obs_tensor = obs_as_tensor(model.env.reset(), model.device)
    with pytest.raises(ValueError, match="normalize_images=False"):
        model.policy.extract_features(obs_tensor, model.policy.features_extractor)
