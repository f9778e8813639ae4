"""Actor-critic agents whose policy reads an episode memory, trained with SB3-style PPO."""

from rl_memory.agents.encoder import EncoderConfig, MemoryFeaturesExtractor, ObservationEncoder

__all__ = ["EncoderConfig", "MemoryFeaturesExtractor", "ObservationEncoder"]
