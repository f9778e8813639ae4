"""Numeric observations for agents: mission text becomes a fixed-length array of token ids."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

# Words of the missions of Minigrid's own environments: the vocabulary of Minigrid's
# DictObservationSpaceWrapper, which includes the MemoryS* mission.
MINIGRID_WORDS: tuple[str, ...] = (
    # colours
    "red", "green", "blue", "purple", "yellow", "grey",
    # objects
    "unseen", "empty", "wall", "floor", "box", "key", "ball", "door", "goal", "agent",
    "lava", "object", "square", "room", "rooms", "hallway", "maze", "opening",
    # verbs
    "pick", "avoid", "get", "find", "put", "use", "open", "go", "fetch", "reach", "unlock",
    "traverse",
    # other words
    "up", "the", "a", "at", "and", "then", "to", "of", "near", "must", "you", "matching",
    "end", "from", ",",
)  # fmt: skip
# Words that only the missions of the rl-memory tasks use.
RL_MEMORY_WORDS: tuple[str, ...] = (
    "remember", "color", "cue", "that", "through", "portals", "it", "as", "often", "can",
)  # fmt: skip
DEFAULT_WORDS: tuple[str, ...] = MINIGRID_WORDS + RL_MEMORY_WORDS

# Room for the longest instruction mission, "go to the C T, then the C T, ..." with eight
# targets: 5 tokens per target.
DEFAULT_MAX_TOKENS = 40

_TOKEN_RE = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")


class MissionVocabulary:
    """Tokenizer for mission strings together with the observation space of its output.

    Token 0 is padding, so an empty mission encodes to all zeros. Word ``i`` of ``words``
    has token id ``i + 1``. Words are lower-cased; punctuation marks are tokens of their own.

    Args:
        words: The known words, without duplicates.
        max_tokens: Length of every encoded mission.

    Raises:
        ValueError: If ``words`` has duplicates or ``max_tokens`` < 1.
    """

    def __init__(
        self, words: Sequence[str] = DEFAULT_WORDS, max_tokens: int = DEFAULT_MAX_TOKENS
    ) -> None:
        duplicates = sorted({word for word in words if list(words).count(word) > 1})
        if duplicates:
            raise ValueError(f"words must be unique, got duplicates {duplicates}.")
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be an integer >= 1, got {max_tokens}.")
        self.words = tuple(words)
        self.max_tokens = int(max_tokens)
        self.token_ids = {word: index + 1 for index, word in enumerate(self.words)}
        self.space = spaces.MultiDiscrete([self.size] * self.max_tokens)

    @property
    def size(self) -> int:
        """Number of token ids, padding included."""
        return len(self.words) + 1

    @staticmethod
    def split(mission: str) -> list[str]:
        """Split a mission into lower-case words and punctuation marks."""
        return _TOKEN_RE.findall(mission.lower())

    def encode(self, mission: str) -> np.ndarray:
        """Encode a mission as token ids padded with zeros.

        Returns:
            Array of shape ``(max_tokens,)``, dtype int64.

        Raises:
            ValueError: If the mission has an unknown word or more than ``max_tokens`` words.
        """
        words = self.split(mission)
        if len(words) > self.max_tokens:
            raise ValueError(
                f"mission {mission!r} has {len(words)} tokens but max_tokens is "
                f"{self.max_tokens}; build MissionVocabulary(max_tokens={len(words)}) or larger."
            )
        tokens = np.zeros(self.max_tokens, dtype=np.int64)
        for index, word in enumerate(words):
            token = self.token_ids.get(word)
            if token is None:
                raise ValueError(
                    f"unknown word {word!r} in mission {mission!r}; pass a MissionVocabulary "
                    "whose words include it, e.g. MissionVocabulary(DEFAULT_WORDS + "
                    f"({word!r},))."
                )
            tokens[index] = token
        return tokens

    def decode(self, tokens: np.ndarray | Sequence[int]) -> str:
        """Turn token ids back into a mission string, dropping padding.

        Args:
            tokens: Token ids, shape ``(max_tokens,)``.
        """
        words = [self.words[int(token) - 1] for token in tokens if int(token) != 0]
        return " ".join(words).replace(" ,", ",")


class NumericObsWrapper(gym.ObservationWrapper):
    """Replace the mission string of a Minigrid observation with token ids.

    The observation space becomes ``Dict(image=Box(0, 255, (V, V, 3), uint8),
    direction=Discrete(4), mission=MultiDiscrete([vocabulary.size] * max_tokens))``. The
    image keeps Minigrid's symbolic encoding (small object, colour and state indices), so
    it must not be scaled as if it were pixels. The raw mission string stays available as
    ``env.unwrapped.mission``.

    Args:
        env: A Minigrid environment with ``image``, ``direction`` and ``mission`` keys.
        vocabulary: Tokenizer for the mission; the default contains the words of the
            rl-memory tasks and of Minigrid's own environments.
    """

    def __init__(self, env: gym.Env, vocabulary: MissionVocabulary | None = None) -> None:
        super().__init__(env)
        self.vocabulary = vocabulary if vocabulary is not None else MissionVocabulary()
        source = env.observation_space
        if not isinstance(source, spaces.Dict) or set(source.spaces) != {
            "image",
            "direction",
            "mission",
        }:
            raise ValueError(
                "NumericObsWrapper expects a Minigrid Dict observation space with keys "
                f"image, direction and mission, got {source}."
            )
        self.observation_space = spaces.Dict(
            {
                "image": source["image"],
                "direction": source["direction"],
                "mission": self.vocabulary.space,
            }
        )
        self._last_mission: str | None = None
        self._last_tokens = np.zeros(self.vocabulary.max_tokens, dtype=np.int64)

    def observation(self, observation: dict[str, Any]) -> dict[str, Any]:
        """Return the observation with the mission encoded as token ids."""
        mission = observation["mission"]
        if mission != self._last_mission:
            self._last_tokens = self.vocabulary.encode(mission)
            self._last_mission = mission
        return {
            "image": observation["image"],
            "direction": observation["direction"],
            "mission": self._last_tokens.copy(),
        }
