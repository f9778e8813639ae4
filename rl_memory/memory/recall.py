"""A supervised recall probe: remember one marked token across a delay of D frames.

Each sequence holds random tokens from a small vocabulary. One of the first ``key_window``
frames is marked as the key; ``delay`` frames later a query frame (no token, a query flag)
asks for the key's token. A memory that learns to keep the key, and to let the unmarked
tokens expire, answers well above the chance level ``1 / n_tokens`` while keeping few
memories. The test suite trains it briefly; ``benchmarks/recall_task.py`` records how many
memories stay in use as the delay grows.

Shapes: B sequences, T frames, V = n_tokens + 2 input features.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rl_memory.memory import MemoryConfig, build_memory
from rl_memory.memory.base import EpisodeMemory


@dataclass
class RecallTaskConfig:
    """The recall task and how long to train on it."""

    delay: int = 8
    """D: frames between the key and the query."""
    n_tokens: int = 4
    """Vocabulary size; chance accuracy is 1 / n_tokens."""
    key_window: int = 4
    """The key sits at a random one of the first key_window frames."""
    batch_size: int = 32
    train_steps: int = 300
    learning_rate: float = 3e-3
    span_learning_rate: float = 1e-2
    span_warmup_steps: int = 0
    """Steps at the start during which the span predictor is frozen, so that the model first
    learns to read the key while every span is still longer than the delay."""
    span_warmup_accuracy: float = 0.0
    """Also keep the span predictor frozen until the training accuracy, averaged over recent
    batches, reaches this value (0 = off)."""
    eval_batches: int = 8
    seed: int = 0


@dataclass
class RecallBatch:
    """Inputs and targets of a batch of recall sequences."""

    inputs: Tensor  # [B, T, V]: one-hot token, key flag, query flag
    key_position: Tensor  # [B] long
    query_position: Tensor  # [B] long
    target: Tensor  # [B] long: the key's token


@dataclass
class RecallResult:
    """Accuracy and memory use after training, measured on fresh sequences."""

    accuracy: float
    key_span: float
    """Mean span of key frames, over layers."""
    other_span: float
    """Mean span of unmarked token frames before the query, over layers."""
    retained_at_query: float
    """Mean number of memories the query frame attends to (mask > 0), averaged over layers."""
    key_visible_at_query: float
    """Fraction of queries whose key memory still has a mask > 0, in the first layer."""
    sequence_length: int


def make_batch(task: RecallTaskConfig, generator: torch.Generator) -> RecallBatch:
    """Draw a batch of recall sequences."""
    n_frames = task.key_window + task.delay
    batch = task.batch_size
    tokens = torch.randint(task.n_tokens, (batch, n_frames), generator=generator)
    key_position = torch.randint(task.key_window, (batch,), generator=generator)
    query_position = key_position + task.delay
    rows = torch.arange(batch)

    inputs = torch.zeros(batch, n_frames, task.n_tokens + 2)
    inputs[:, :, : task.n_tokens] = F.one_hot(tokens, task.n_tokens).float()
    inputs[rows, key_position, task.n_tokens] = 1.0
    inputs[rows, query_position, : task.n_tokens] = 0.0
    inputs[rows, query_position, task.n_tokens + 1] = 1.0
    return RecallBatch(inputs, key_position, query_position, tokens[rows, key_position])


class RecallModel(nn.Module):
    """Token embedding, an episode memory, and a classifier read at the query frame."""

    def __init__(self, memory_config: MemoryConfig, n_tokens: int) -> None:
        super().__init__()
        self.embed = nn.Linear(n_tokens + 2, memory_config.d_model)
        self.memory: EpisodeMemory = build_memory(memory_config)
        self.head = nn.Linear(memory_config.d_model, n_tokens)

    def forward(self, batch: RecallBatch) -> tuple[Tensor, Tensor, object]:
        """Return logits [B, n_tokens] at the query, the span loss, and the diagnostics."""
        n_sequences, n_frames, _ = batch.inputs.shape
        episode_start = torch.zeros(n_sequences, n_frames, dtype=torch.bool)
        episode_start[:, 0] = True
        state = self.memory.initial_state(n_sequences)
        hidden, diagnostics = self.memory.forward_sequence(
            self.embed(batch.inputs), episode_start, state
        )
        at_query = hidden[torch.arange(n_sequences), batch.query_position]
        return self.head(at_query), diagnostics.span_loss, diagnostics


def train_recall(memory_config: MemoryConfig, task: RecallTaskConfig) -> RecallResult:
    """Train a RecallModel on the task with Adam and measure it on fresh sequences.

    The span predictor gets its own learning rate, ``task.span_learning_rate``.
    """
    torch.manual_seed(task.seed)
    generator = torch.Generator().manual_seed(task.seed)
    model = RecallModel(memory_config, task.n_tokens)
    span_ids = {id(p) for p in model.memory.span_parameters()}
    other = [p for p in model.parameters() if id(p) not in span_ids]
    groups = [{"params": other, "lr": task.learning_rate}]
    if span_ids:
        groups.append({"params": model.memory.span_parameters(), "lr": task.span_learning_rate})
    optimizer = torch.optim.Adam(groups)

    model.train()
    recent_accuracy = 0.0
    for step in range(task.train_steps):
        warming_up = step < task.span_warmup_steps or recent_accuracy < task.span_warmup_accuracy
        if len(groups) == 2:
            optimizer.param_groups[1]["lr"] = 0.0 if warming_up else task.span_learning_rate
        batch = make_batch(task, generator)
        logits, span_loss, _ = model(batch)
        accuracy = float((logits.argmax(dim=1) == batch.target).float().mean())
        recent_accuracy = 0.9 * recent_accuracy + 0.1 * accuracy
        loss = F.cross_entropy(logits, batch.target) + span_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return evaluate_recall(model, task, generator)


@torch.no_grad()
def evaluate_recall(
    model: RecallModel, task: RecallTaskConfig, generator: torch.Generator
) -> RecallResult:
    """Measure accuracy, spans and memories in use on ``task.eval_batches`` fresh batches."""
    model.eval()
    correct, key_spans, other_spans, retained, key_visible = [], [], [], [], []
    for _ in range(task.eval_batches):
        batch = make_batch(task, generator)
        logits, _, diagnostics = model(batch)
        rows = torch.arange(batch.target.shape[0])
        correct.append((logits.argmax(dim=1) == batch.target).float())
        retained.append(diagnostics.retained[:, rows, batch.query_position].float())
        if diagnostics.span is not None:
            spans = diagnostics.span  # [N, B, T]
            frame = torch.arange(spans.shape[2])
            is_key = frame.unsqueeze(0) == batch.key_position.unsqueeze(1)  # [B, T]
            before_query = frame.unsqueeze(0) < batch.query_position.unsqueeze(1)
            key_spans.append(spans[:, is_key])
            other_spans.append(spans[:, before_query & ~is_key])
            mask = diagnostics.mask[0]  # [B, T, M]
            key_visible.append((mask[rows, batch.query_position, batch.key_position] > 0).float())

    def mean(values: list[Tensor]) -> float:
        return float(torch.cat([v.flatten() for v in values]).mean()) if values else float("nan")

    return RecallResult(
        accuracy=mean(correct),
        key_span=mean(key_spans),
        other_span=mean(other_spans),
        retained_at_query=mean(retained),
        key_visible_at_query=mean(key_visible) if key_visible else 1.0,
        sequence_length=task.key_window + task.delay,
    )


def recall_memory_config(delay: int, **overrides: object) -> MemoryConfig:
    """Return the Expire-Span settings used for the recall probe at a given delay.

    The maximum span is twice the delay and spans start at 0.6 of it, so the key starts
    alive at the query. The ramp is a quarter of the delay, so that the key's span stays on
    it for many optimiser steps: with a ramp of an eighth the key's span fell through it
    at delays of 300 frames. The span-loss coefficient is 0.01: with 0.1 the loss outweighed
    the task gradient once the task was learned, and at a delay of 10 frames the key's span
    fell below the ramp, from where no gradient brings it back.
    """
    config = MemoryConfig(
        kind="expire-span",
        d_model=32,
        n_heads=2,
        n_layers=1,
        d_ff=64,
        max_span=2 * delay,
        ramp=max(4, delay // 4),
        init_span_fraction=0.6,
        span_loss="mean",
        span_loss_coef=0.01,
        max_relative_position=max(64, 2 * delay),
    )
    return dataclasses.replace(config, **overrides)  # type: ignore[arg-type]
