"""Acting caches: pruning, episode boundaries, windows, compaction and shared buffers."""

from __future__ import annotations

import torch
from memory_reference import episode_steps, naive_forward

from rl_memory.memory import MemoryState, TransformerMemory


def kept_steps(state: MemoryState, layer: int, env: int) -> list[int]:
    """Return the sorted episode steps an env keeps in one layer."""
    steps = state.step[layer][env][state.valid[layer][env]]
    return sorted(steps.tolist())


def run(memory, x: torch.Tensor, starts: torch.Tensor) -> tuple[torch.Tensor, list[MemoryState]]:
    state = memory.initial_state(x.shape[0])
    outputs, states = [], []
    for t in range(x.shape[1]):
        out, state, _ = memory.step(x[:, t], state, starts[:, t])
        outputs.append(out)
        states.append(state)
    return torch.stack(outputs, dim=1), states


def first_starts(n_envs: int, n_steps: int) -> torch.Tensor:
    starts = torch.zeros(n_envs, n_steps, dtype=torch.bool)
    starts[:, 0] = True
    return starts


class KeepEverything(TransformerMemory):
    """The same memory with pruning switched off."""

    def _keep(
        self, valid: torch.Tensor, next_age: torch.Tensor, span: torch.Tensor
    ) -> torch.Tensor:
        return valid


def test_pruning_removes_exactly_invisible(make_memory) -> None:
    memory = make_memory("expire-span", span_std=1.5)
    n_steps, ramp = 50, memory.config.ramp
    x = torch.randn(1, n_steps, 16, dtype=torch.float64)
    starts = first_starts(1, n_steps)
    _, states = run(memory, x, starts)
    _, spans = naive_forward(memory, x[0], starts[0].tolist())

    for layer, span in enumerate(spans):
        pruned_somewhere = False
        for t, state in enumerate(states):
            next_query = t + 1
            visible_next = [s for s in range(t + 1) if next_query - s < span[s].item() + ramp]
            assert kept_steps(state, layer, 0) == visible_next, (layer, t)
            pruned_somewhere |= len(visible_next) < t + 1
        assert pruned_somewhere, "no memory expired: spans too long for this test"


def test_pruning_leaves_outputs_unchanged(make_memory) -> None:
    memory = make_memory("expire-span", span_std=1.5)
    unpruned = KeepEverything(memory.config).double()
    unpruned.load_state_dict(memory.state_dict())
    x = torch.randn(3, 60, 16, dtype=torch.float64)
    starts = first_starts(3, 60)
    starts[1, 30] = True
    pruned_out, pruned_states = run(memory, x, starts)
    full_out, full_states = run(unpruned, x, starts)
    assert torch.allclose(pruned_out, full_out, atol=1e-12, rtol=0)
    assert pruned_states[-1].retained().sum() < full_states[-1].retained().sum()


def test_episode_start_clears_only_that_env(make_memory) -> None:
    memory = make_memory("all")
    x = torch.randn(3, 30, 16, dtype=torch.float64)
    starts = first_starts(3, 30)
    restarted = starts.clone()
    restarted[1, 12] = True
    out, _ = run(memory, x, starts)
    restarted_out, restarted_states = run(memory, x, restarted)

    assert torch.equal(restarted_out[[0, 2]], out[[0, 2]])
    assert kept_steps(restarted_states[12], 0, 1) == [0]
    assert kept_steps(restarted_states[12], 0, 0) == list(range(13))
    assert kept_steps(restarted_states[12], 0, 2) == list(range(13))
    fresh_out, _ = run(memory, x[1:2, 12:], first_starts(1, 18))
    assert torch.allclose(restarted_out[1, 12:], fresh_out[0], atol=1e-12, rtol=0)


def test_previous_episode_has_no_influence(make_memory) -> None:
    for kind in ("expire-span", "transformer-xl", "all"):
        memory = make_memory(kind, max_span=100, init_span_fraction=0.9)
        x = torch.randn(2, 30, 16, dtype=torch.float64)
        starts = first_starts(2, 30)
        starts[:, 17] = True
        changed = x.clone()
        changed[:, :17] = torch.randn(2, 17, 16, dtype=torch.float64)
        out, _ = run(memory, x, starts)
        changed_out, _ = run(memory, changed, starts)
        assert not torch.allclose(out[:, :17], changed_out[:, :17]), kind
        assert torch.equal(out[:, 17:], changed_out[:, 17:]), kind


def test_window_keeps_last_k_frames(make_memory) -> None:
    memory = make_memory("transformer-xl", window=5)
    x = torch.randn(2, 30, 16, dtype=torch.float64)
    starts = first_starts(2, 30)
    starts[1, 20] = True
    _, states = run(memory, x, starts)
    for t, state in enumerate(states):
        for env in range(2):
            step = episode_steps(starts[env].tolist())[t]
            expected = list(range(max(0, step - 4), step + 1))
            for layer in range(2):
                assert kept_steps(state, layer, env) == expected, (t, env, layer)


def test_all_keeps_whole_episode(make_memory) -> None:
    memory = make_memory("all")
    x = torch.randn(2, 40, 16, dtype=torch.float64)
    starts = first_starts(2, 40)
    starts[0, 25] = True
    _, states = run(memory, x, starts)
    assert kept_steps(states[-1], 0, 1) == list(range(40))
    assert kept_steps(states[-1], 1, 0) == list(range(15))
    assert states[-1].retained().tolist() == [[15, 40], [15, 40]]


def test_padding_stays_near_retained(make_memory) -> None:
    memory = make_memory("expire-span", span_std=0.0, max_span=10, init_span_fraction=0.5)
    x = torch.randn(4, 600, 16, dtype=torch.float64)
    starts = first_starts(4, 600)
    starts[2, 300] = True
    _, states = run(memory, x, starts)
    widths = [state.hidden[0].shape[1] for state in states]
    retained = states[-1].retained().max().item()
    assert retained == 5 + memory.config.ramp - 1
    assert max(widths[100:]) <= retained + 8 + 1
    for state in states[100:]:
        assert state.valid[0].shape == state.hidden[0].shape[:2]


def test_old_states_stay_unchanged(make_memory) -> None:
    memory = make_memory("expire-span", span_std=1.5)
    x = torch.randn(2, 80, 16, dtype=torch.float64)
    starts = first_starts(2, 80)
    starts[0, 40] = True
    out, states = run(memory, x, starts)
    snapshot = [
        ([h.clone() for h in s.hidden], [v.clone() for v in s.valid], s.episode_step.clone())
        for s in states
    ]

    # Step an older state along a different branch: it must copy, not overwrite shared buffers.
    branch = states[20]
    for t in range(21, 60):
        _, branch, _ = memory.step(torch.randn(2, 16, dtype=torch.float64), branch, starts[:, t])
    for t in range(21, 80):
        again, _, _ = memory.step(x[:, t], states[t - 1], starts[:, t])
        assert torch.allclose(again, out[:, t], atol=1e-12, rtol=0)
    for state, (hidden, valid, episode_step) in zip(states, snapshot, strict=True):
        for layer in range(2):
            kept = valid[layer]
            assert torch.equal(state.valid[layer], kept)
            assert torch.equal(state.hidden[layer][kept], hidden[layer][kept])
        assert torch.equal(state.episode_step, episode_step)


def test_cache_follows_parameter_updates(make_memory) -> None:
    memory = make_memory("expire-span", span_std=1.5)
    x = torch.randn(3, 30, 16, dtype=torch.float64)
    _, states = run(memory, x, first_starts(3, 30))
    optimizer = torch.optim.Adam(memory.parameters(), lr=0.05)
    out, diagnostics = memory.forward_sequence(x[:, 20:], first_starts(3, 10) & False, states[19])
    (out.square().mean() + diagnostics.span_loss).backward()
    optimizer.step()

    frame, no_start = torch.randn(3, 16, dtype=torch.float64), torch.zeros(3, dtype=torch.bool)
    cached_out, _, _ = memory.step(frame, states[-1], no_start)
    stripped = memory.select(states[-1], torch.arange(3))
    assert stripped.cache is None
    rebuilt_out, _, _ = memory.step(frame, stripped, no_start)
    assert torch.allclose(cached_out, rebuilt_out, atol=1e-12, rtol=0)


def test_selected_envs_continue_alike(make_memory) -> None:
    memory = make_memory("transformer-xl")
    x = torch.randn(4, 20, 16, dtype=torch.float64)
    starts = first_starts(4, 20)
    out, states = run(memory, x, starts)
    subset = torch.tensor([3, 1])
    state = memory.select(states[9], subset)
    for t in range(10, 20):
        step_out, state, _ = memory.step(x[subset, t], state, starts[subset, t])
        assert torch.allclose(step_out, out[subset, t], atol=1e-12, rtol=0)


def test_state_follows_module_dtype(make_memory) -> None:
    memory = make_memory("expire-span").float()
    state = memory.initial_state(2)
    memory.double()
    x = torch.randn(6, 2, 16, dtype=torch.float64)
    no_start = torch.zeros(2, dtype=torch.bool)
    for frame in x:
        _, state, _ = memory.step(frame, state, no_start)
    assert state.hidden[0].dtype == torch.float64
    assert state.cache.layers[0].key.dtype == torch.float64


def test_cache_follows_max_span(make_memory) -> None:
    memory = make_memory("expire-span", span_std=1.5)
    x = torch.randn(3, 30, 16, dtype=torch.float64)
    _, states = run(memory, x, first_starts(3, 30))
    memory.set_max_span(3 * memory.config.max_span)

    frame, no_start = torch.randn(3, 16, dtype=torch.float64), torch.zeros(3, dtype=torch.bool)
    cached_out, cached_state, _ = memory.step(frame, states[-1], no_start)
    stripped = memory.select(states[-1], torch.arange(3))
    rebuilt_out, rebuilt_state, _ = memory.step(frame, stripped, no_start)
    assert torch.allclose(cached_out, rebuilt_out, atol=1e-12, rtol=0)
    assert cached_state.retained().tolist() == rebuilt_state.retained().tolist()
