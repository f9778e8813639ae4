"""Acting one frame at a time, learning over chunks, and a naive reference agree exactly."""

from __future__ import annotations

import pytest
import torch
from memory_reference import naive_forward

from rl_memory.memory import MemoryConfig, MemoryState, TransformerMemory, build_memory

KINDS = ["expire-span", "transformer-xl", "all"]


def act(memory, x: torch.Tensor, starts: torch.Tensor) -> tuple[torch.Tensor, list[MemoryState]]:
    """Step through [B, T, D] frames; return outputs [B, T, D] and the state before each frame."""
    state = memory.initial_state(x.shape[0])
    states, outputs = [state], []
    for t in range(x.shape[1]):
        out, state, _ = memory.step(x[:, t], state, starts[:, t])
        outputs.append(out)
        states.append(state)
    return torch.stack(outputs, dim=1), states


def episode_starts(n_envs: int, n_steps: int, extra: dict[int, list[int]]) -> torch.Tensor:
    starts = torch.zeros(n_envs, n_steps, dtype=torch.bool)
    starts[:, 0] = True
    for env, steps in extra.items():
        starts[env, steps] = True
    return starts


def test_step_equals_full_attention_long_spans(make_memory) -> None:
    memory = make_memory("expire-span", span_std=0.0, max_span=1000, init_span_fraction=0.9)
    x = torch.randn(2, 25, 16, dtype=torch.float64)
    starts = episode_starts(2, 25, {1: [9]})
    acting, _ = act(memory, x, starts)
    for env in range(2):
        reference, spans = naive_forward(memory, x[env], starts[env].tolist(), use_mask=False)
        assert min(s.min().item() for s in spans) > 25
        assert torch.allclose(acting[env], reference, atol=1e-12, rtol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_step_equals_naive_masked(make_memory, kind: str) -> None:
    memory = make_memory(kind, span_std=1.5)
    x = torch.randn(3, 40, 16, dtype=torch.float64)
    starts = episode_starts(3, 40, {1: [13], 2: [25, 27]})
    acting, states = act(memory, x, starts)
    for env in range(3):
        reference, spans = naive_forward(memory, x[env], starts[env].tolist())
        assert torch.allclose(acting[env], reference, atol=1e-12, rtol=0)
    if kind == "expire-span":
        assert min(s.min().item() for s in spans) < 40 - 5, "spans too long to test expiry"
        assert states[-1].retained().max() < 40


@pytest.mark.parametrize("kind", [*KINDS, "none"])
@pytest.mark.parametrize("chunk", [7, 16])
def test_learning_equals_acting(make_memory, kind: str, chunk: int) -> None:
    if kind == "none":
        memory = build_memory(MemoryConfig(kind="none", d_model=16, n_heads=2, d_ff=32)).double()
    else:
        memory = make_memory(kind, span_std=1.5)
    x = torch.randn(3, 48, 16, dtype=torch.float64)
    starts = episode_starts(3, 48, {1: [13, 14], 2: [30]})
    acting, states = act(memory, x, starts)
    for first in range(0, 48, chunk):
        last = min(first + chunk, 48)
        out, diagnostics = memory.forward_sequence(
            x[:, first:last], starts[:, first:last], states[first]
        )
        assert torch.allclose(out, acting[:, first:last], atol=1e-12, rtol=0), (kind, first)
        assert diagnostics.retained.shape == (2, 3, last - first) or kind == "none"


@pytest.mark.parametrize("kind", KINDS)
def test_learning_diagnostics_match_acting(make_memory, kind: str) -> None:
    memory = make_memory(kind, span_std=1.5)
    x = torch.randn(2, 30, 16, dtype=torch.float64)
    starts = episode_starts(2, 30, {0: [11]})
    state = memory.initial_state(2)
    retained, spans = [], []
    for t in range(10):
        _, state, diagnostics = memory.step(x[:, t], state, starts[:, t])
    for t in range(10, 30):
        _, state, diagnostics = memory.step(x[:, t], state, starts[:, t])
        retained.append(diagnostics.retained)
        if diagnostics.span is not None:
            spans.append(diagnostics.span)
    acting_state = memory.initial_state(2)
    for t in range(10):
        _, acting_state, _ = memory.step(x[:, t], acting_state, starts[:, t])
    _, learned = memory.forward_sequence(x[:, 10:], starts[:, 10:], acting_state)
    assert torch.equal(learned.retained, torch.stack(retained, dim=2))
    if kind == "expire-span":
        assert learned.span is not None
        assert torch.allclose(learned.span, torch.stack(spans, dim=2), atol=1e-12, rtol=0)


def test_learning_gradients_reach_everything(make_memory) -> None:
    memory = make_memory("expire-span", span_std=1.5, span_loss="ramp", span_loss_coef=0.1)
    x = torch.randn(2, 30, 16, dtype=torch.float64, requires_grad=True)
    starts = episode_starts(2, 30, {})
    _, states = act(memory, x.detach(), starts)
    out, diagnostics = memory.forward_sequence(x[:, 15:], starts[:, 15:], states[15])
    (out.square().sum() + diagnostics.span_loss).backward()
    assert x.grad is not None
    assert x.grad[:, 15:].abs().sum() > 0
    assert x.grad[:, :15].abs().sum() == 0, "carried memories must be detached"
    for name, parameter in memory.named_parameters():
        assert parameter.grad is not None, name
        assert parameter.grad.abs().sum() > 0, name


def test_float32_learning_close_to_acting() -> None:
    torch.manual_seed(0)
    memory = build_memory(MemoryConfig(d_model=32, n_heads=4, max_span=20, ramp=4))
    assert isinstance(memory, TransformerMemory)
    x = torch.randn(4, 64, 32)
    starts = episode_starts(4, 64, {2: [20]})
    with torch.no_grad():
        acting, states = act(memory, x, starts)
        out, _ = memory.forward_sequence(x[:, 32:], starts[:, 32:], states[32])
    assert torch.allclose(out, acting[:, 32:], atol=1e-5, rtol=0)
