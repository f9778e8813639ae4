"""Expire-Span learns the supervised recall probe and lets unmarked tokens expire first."""

from __future__ import annotations

import torch

from rl_memory.memory.recall import (
    RecallModel,
    RecallTaskConfig,
    evaluate_recall,
    make_batch,
    recall_memory_config,
    train_recall,
)


def test_recall_batch_layout() -> None:
    task = RecallTaskConfig(delay=5, n_tokens=3, key_window=2, batch_size=6)
    batch = make_batch(task, torch.Generator().manual_seed(0))
    rows = torch.arange(6)
    assert batch.inputs.shape == (6, 7, 5)
    assert torch.equal(batch.query_position - batch.key_position, torch.full((6,), 5))
    assert (batch.inputs[:, :, 3].sum(dim=1) == 1).all()
    assert (batch.inputs[rows, batch.key_position, 3] == 1).all()
    assert (batch.inputs[rows, batch.query_position, 4] == 1).all()
    assert (batch.inputs[rows, batch.query_position, :3] == 0).all()
    assert torch.equal(batch.inputs[rows, batch.key_position, :3].argmax(dim=1), batch.target)


def test_untrained_model_near_chance() -> None:
    torch.manual_seed(0)
    task = RecallTaskConfig(delay=8, eval_batches=16)
    model = RecallModel(recall_memory_config(8, ramp=4), task.n_tokens)
    result = evaluate_recall(model, task, torch.Generator().manual_seed(1))
    assert result.accuracy < 0.45


def test_expire_span_learns_recall() -> None:
    task = RecallTaskConfig(delay=8, span_learning_rate=3e-3, seed=0)
    result = train_recall(recall_memory_config(8, ramp=4), task)
    chance = 1 / task.n_tokens
    assert result.accuracy > chance + 0.5
    assert result.other_span < result.key_span
    assert result.other_span < 0.5 * task.delay
    assert result.retained_at_query < result.sequence_length
