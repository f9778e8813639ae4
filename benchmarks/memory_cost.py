"""Measure the acting and learning cost of the episode memories as the history grows.

For each memory kind, 8 envs step through one long episode on one CPU thread. At histories
of 100, 1,000, 10,000 and 100,000 frames the script times the next steps and records the
memories kept per env and the bytes of the acting cache. It then times one learning
minibatch (forward and backward over 4 env chunks of 128 frames) that starts from the acting
state at a history of 1,000 frames.

Expire-Span's spans are set, not learned: the span predictor's bias makes every span 10
steps (``--span``), the kind of short span a trained agent gives to frames it does not need.
The all-memories kind steps for real up to ``--all-max-real`` frames; beyond that its state
is filled with random memories and only a few steps are timed.

Usage:
    python benchmarks/memory_cost.py                  # full run, a few minutes
    python benchmarks/memory_cost.py --max-history 10000 --timed-steps 100   # quick look
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from dataclasses import dataclass

import torch

from rl_memory.memory import EpisodeMemory, MemoryConfig, MemoryState, build_memory

HISTORIES = (100, 1_000, 10_000, 100_000)
KINDS = ("expire-span", "transformer-xl", "all")


@dataclass
class CostRow:
    kind: str
    history: int
    step_ms: float
    kept_per_env: float
    padded_width: int
    cache_mib: float
    timed_steps: int
    filled: bool
    """True when the state was filled with random memories instead of stepped to."""


def build(kind: str, args: argparse.Namespace) -> EpisodeMemory:
    config = MemoryConfig(
        kind=kind,  # type: ignore[arg-type]
        d_model=args.d_model,
        n_heads=args.n_heads,
        n_layers=args.n_layers,
        d_ff=2 * args.d_model,
        max_span=args.max_span,
        ramp=args.ramp,
        window=args.window,
    )
    torch.manual_seed(0)
    memory = build_memory(config)
    with torch.no_grad():
        for parameter in memory.span_parameters():
            if parameter.dim() == 1:  # the bias: every span becomes args.span
                parameter.fill_(
                    config.span_predivide * math.log(args.span / (args.max_span - args.span))
                )
    return memory.eval()


def cache_mib(state: MemoryState) -> float:
    """Return the MiB allocated by a state's acting cache (or its contract tensors)."""
    cache = state.cache
    if cache is None:
        tensors = [*state.hidden, *state.step, *state.valid]
    else:
        tensors = [t for layer in cache.layers for t in vars(layer).values()]
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def time_steps(
    memory: EpisodeMemory, state: MemoryState, frames: torch.Tensor, n_steps: int
) -> tuple[float, MemoryState]:
    """Return the mean milliseconds per step over ``n_steps`` steps, and the final state."""
    no_start = torch.zeros(frames.shape[1], dtype=torch.bool)
    start = time.perf_counter()
    for i in range(n_steps):
        _, state, _ = memory.step(frames[i % frames.shape[0]], state, no_start)
    return (time.perf_counter() - start) / max(n_steps, 1) * 1e3, state


def time_blocks(
    memory: EpisodeMemory, state: MemoryState, frames: torch.Tensor, n_steps: int, n_blocks: int
) -> tuple[float, MemoryState]:
    """Time ``n_steps`` steps in blocks and return the fastest block's ms per step.

    Other processes share the machine, so the fastest block is the best estimate of the cost
    of a step itself.
    """
    block_ms = []
    for _ in range(n_blocks):
        ms, state = time_steps(memory, state, frames, max(1, n_steps // n_blocks))
        block_ms.append(ms)
    return min(block_ms), state


def row(
    kind: str, history: int, ms: float, state: MemoryState, steps: int, filled: bool
) -> CostRow:
    return CostRow(
        kind=kind,
        history=history,
        step_ms=ms,
        kept_per_env=float(state.retained().float().mean()),
        padded_width=int(state.hidden[0].shape[1]),
        cache_mib=cache_mib(state),
        timed_steps=steps,
        filled=filled,
    )


def filled_state(memory: EpisodeMemory, n_envs: int, history: int) -> MemoryState:
    """Return a state whose envs each keep ``history`` random memories (steps 0..history-1)."""
    n_layers, d_model = memory.config.n_layers, memory.config.d_model
    generator = torch.Generator().manual_seed(1)
    steps = torch.arange(history).expand(n_envs, history)
    return MemoryState(
        hidden=[
            torch.randn(n_envs, history, d_model, generator=generator) for _ in range(n_layers)
        ],
        step=[steps.clone() for _ in range(n_layers)],
        valid=[torch.ones(n_envs, history, dtype=torch.bool) for _ in range(n_layers)],
        episode_step=torch.full((n_envs,), history, dtype=torch.long),
    )


def measure_acting(
    kind: str, args: argparse.Namespace, frames: torch.Tensor
) -> tuple[list[CostRow], MemoryState]:
    """Step one long episode and time the steps after each history in ``args.histories``."""
    memory = build(kind, args)
    rows, state_at_1000 = [], None
    state = memory.initial_state(args.n_envs)
    first = torch.ones(args.n_envs, dtype=torch.bool)
    with torch.no_grad():
        _, state, _ = memory.step(frames[0], state, first)
        reached = 1
        for history in args.histories:
            real_limit = args.all_max_real if kind == "all" else args.max_history
            if history > real_limit:
                state = filled_state(memory, args.n_envs, history)
                _, state = time_steps(memory, state, frames, 1)  # rebuilds the cache
                kept = row(kind, history, 0.0, state, args.filled_steps, True)
                kept.step_ms, _ = time_blocks(memory, state, frames, args.filled_steps, 2)
                rows.append(kept)
                continue
            _, state = time_steps(memory, state, frames, history - reached)
            reached = history
            if history == 1_000:
                state_at_1000 = state
            kept = row(kind, history, 0.0, state, args.timed_steps, False)
            kept.step_ms, state = time_blocks(memory, state, frames, args.timed_steps, 5)
            reached += args.timed_steps
            rows.append(kept)
    assert state_at_1000 is not None
    return rows, state_at_1000


def measure_learning(kind: str, args: argparse.Namespace, state: MemoryState) -> float:
    """Return the milliseconds of one forward and backward over 4 chunks of 128 frames."""
    memory = build(kind, args).train()
    chunks = torch.arange(4)
    carried = memory.select(state, chunks)
    x = torch.randn(4, 128, args.d_model, requires_grad=True)
    episode_start = torch.zeros(4, 128, dtype=torch.bool)
    times = []
    for _ in range(args.learning_repeats + 1):
        start = time.perf_counter()
        out, diagnostics = memory.forward_sequence(x, episode_start, carried)
        (out.square().mean() + diagnostics.span_loss).backward()
        times.append(time.perf_counter() - start)
    return sorted(times[1:])[len(times[1:]) // 2] * 1e3


def markdown(rows: list[CostRow], learning: dict[str, float], args: argparse.Namespace) -> str:
    lines = [
        "| kind | history (frames) | ms per step (8 envs) | memories kept per env "
        "| padded width | cache MiB |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        note = f" (filled state, {r.timed_steps} steps timed)" if r.filled else ""
        lines.append(
            f"| {r.kind} | {r.history:,} | {r.step_ms:.2f}{note} | {r.kept_per_env:,.0f} | "
            f"{r.padded_width:,} | {r.cache_mib:,.1f} |"
        )
    lines += [
        "",
        "| kind | learning ms per minibatch (4 x 128 frames, state at history 1,000) |",
        "|---|---|",
    ]
    lines += [f"| {kind} | {ms:.1f} |" for kind, ms in learning.items()]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--n-heads", type=int, default=2)
    parser.add_argument("--n-layers", type=int, default=1)
    parser.add_argument("--max-span", type=int, default=256, help="Expire-Span L_max, in steps")
    parser.add_argument("--ramp", type=int, default=16, help="Expire-Span ramp R, in steps")
    parser.add_argument(
        "--span", type=float, default=10.0, help="span given to every frame, in steps"
    )
    parser.add_argument("--window", type=int, default=64, help="Transformer-XL window, in frames")
    parser.add_argument(
        "--max-history", type=int, default=100_000, help="maximum history, in frames"
    )
    parser.add_argument(
        "--all-max-real",
        type=int,
        default=10_000,
        help="all-memories: maximum history reached by stepping, in frames",
    )
    parser.add_argument("--timed-steps", type=int, default=300, help="steps timed at each history")
    parser.add_argument(
        "--filled-steps", type=int, default=10, help="steps timed on a filled state"
    )
    parser.add_argument("--learning-repeats", type=int, default=5)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    args.histories = [h for h in HISTORIES if h <= args.max_history]
    if 1_000 not in args.histories:
        parser.error("--max-history must be at least 1000: learning starts from that history")
    return args


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    frames = torch.randn(1_000, args.n_envs, args.d_model)
    rows: list[CostRow] = []
    learning: dict[str, float] = {}
    started = time.perf_counter()
    for kind in args.kinds:
        kind_rows, state = measure_acting(kind, args, frames)
        rows += kind_rows
        learning[kind] = measure_learning(kind, args, state)
        print(f"{kind}: done after {time.perf_counter() - started:.0f} s", flush=True)
    print(f"\ntorch {torch.__version__}, 1 thread, {platform.processor() or platform.machine()}\n")
    print(markdown(rows, learning, args))
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"rows": [vars(r) for r in rows], "learning_ms": learning}, file, indent=1)


if __name__ == "__main__":
    main()
