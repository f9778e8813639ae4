"""Actor-critic agents whose policy reads an episode memory, trained with SB3-style PPO."""

from rl_memory.agents.buffer import MemoryRolloutBuffer, MemoryRolloutSamples, compute_gae
from rl_memory.agents.encoder import EncoderConfig, MemoryFeaturesExtractor, ObservationEncoder
from rl_memory.agents.policy import MemoryPolicy
from rl_memory.agents.ppo import ExpireSpanPPO

__all__ = [
    "EncoderConfig",
    "ExpireSpanPPO",
    "MemoryFeaturesExtractor",
    "MemoryPolicy",
    "MemoryRolloutBuffer",
    "MemoryRolloutSamples",
    "ObservationEncoder",
    "compute_gae",
]
