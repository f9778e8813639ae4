"""Fixtures for the memory tests: one torch thread, float64 models with non-trivial weights."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch

from rl_memory.memory import MemoryConfig, TransformerMemory, build_memory


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def randomise(memory: TransformerMemory, span_std: float = 0.5, seed: int = 0) -> None:
    """Give the age bias and span predictors random weights, so that they matter in tests."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in memory.memory_layers:
            bias = layer.age_bias.bias.weight
            bias.copy_(torch.randn(bias.shape, generator=generator, dtype=bias.dtype))
            if layer.span is not None:
                weight = layer.span.linear.weight
                weight.copy_(span_std * torch.randn(weight.shape, generator=generator))


@pytest.fixture
def make_memory() -> Callable[..., TransformerMemory]:
    """Return a builder of small float64 transformer memories with randomised weights."""

    def build(
        kind: str = "expire-span", span_std: float = 0.5, **overrides: object
    ) -> TransformerMemory:
        torch.manual_seed(0)
        settings: dict[str, object] = {
            "d_model": 16,
            "n_heads": 2,
            "n_layers": 2,
            "d_ff": 32,
            "max_span": 12,
            "ramp": 4,
            "init_span_fraction": 0.3,
            "window": 5,
            "age_buckets": 8,
            "max_relative_position": 20,
        }
        settings.update(overrides)
        memory = build_memory(MemoryConfig(kind=kind, **settings))  # type: ignore[arg-type]
        assert isinstance(memory, TransformerMemory)
        memory = memory.double()
        randomise(memory, span_std)
        return memory

    return build
