"""Unit tests of the Expire-Span math: spans, mask, gradients, losses and renormalisation."""

from __future__ import annotations

import math

import pytest
import torch
from memory_reference import age_bucket

from rl_memory.memory.expire_span import (
    SpanPredictor,
    expire_mask,
    mean_span_loss,
    ramp_span_loss,
    shorten_spans,
)
from rl_memory.memory.layer import age_bucket_table

RAMP = 4


@pytest.mark.parametrize(
    ("span", "age", "expected"),
    [
        (10.0, 3, 1.0),  # alive: remaining span 7
        (10.0, 10, 1.0),  # expires exactly now: still 1
        (10.0, 11, 0.75),  # one step into the ramp of 4
        (10.0, 12.5, 0.375),
        (10.0, 13, 0.25),
        (10.0, 14, 0.0),  # end of the ramp
        (10.0, 20, 0.0),  # long expired
        (2.5, 4, 0.625),
    ],
)
def test_mask_hand_computed_values(span: float, age: float, expected: float) -> None:
    mask = expire_mask(
        torch.tensor([[span]], dtype=torch.float64),
        torch.tensor([[[age]]], dtype=torch.float64),
        RAMP,
    )
    assert mask.item() == pytest.approx(expected)


@pytest.mark.parametrize(("age", "on_ramp"), [(3, False), (11, True), (13.5, True), (20, False)])
def test_mask_gradient_only_on_ramp(age: float, on_ramp: bool) -> None:
    span = torch.tensor([[10.0]], dtype=torch.float64, requires_grad=True)
    expire_mask(span, torch.tensor([[[age]]], dtype=torch.float64), RAMP).sum().backward()
    assert span.grad is not None
    if on_ramp:
        assert span.grad.item() == pytest.approx(1 / RAMP)
    else:
        assert span.grad.item() == 0.0


def test_span_predictor_starts_at_fraction() -> None:
    for predivide in (1.0, 8.0):
        predictor = SpanPredictor(d_model=6, max_span=200, init_fraction=0.3, predivide=predivide)
        spans = predictor(torch.randn(5, 7, 6))
        assert spans.shape == (5, 7)
        assert torch.allclose(spans, torch.full_like(spans, 60.0))


def test_span_predictor_predivide_scales_logit() -> None:
    predictor = SpanPredictor(d_model=3, max_span=100, init_fraction=0.5, predivide=4.0)
    with torch.no_grad():
        predictor.linear.weight.fill_(1.0)
    hidden = torch.tensor([[2.0, 0.0, 2.0]])
    expected = 100 / (1 + math.exp(-1.0))  # (w . h + b) / 4 = (4 + 0) / 4
    assert predictor(hidden).item() == pytest.approx(expected, rel=1e-6)


def test_set_max_span_scales_every_span(make_memory) -> None:
    memory = make_memory("expire-span")
    hidden = torch.randn(4, 16, dtype=torch.float64)
    before = [layer.span(hidden) for layer in memory.memory_layers if layer.span is not None]
    memory.set_max_span(5 * memory.config.max_span)
    after = [layer.span(hidden) for layer in memory.memory_layers if layer.span is not None]
    assert len(after) == memory.config.n_layers == 2
    for old, new in zip(before, after, strict=True):
        assert torch.allclose(new, 5 * old, rtol=1e-12)
    assert memory.config.max_span == 60


@pytest.mark.parametrize("kind", ["transformer-xl", "all"])
def test_set_max_span_needs_expiry(make_memory, kind: str) -> None:
    with pytest.raises(ValueError, match=f"expire-span memories only, not to {kind}"):
        make_memory(kind).set_max_span(100)


def test_set_max_span_rejects_zero(make_memory) -> None:
    with pytest.raises(ValueError, match="at least 1, got 0"):
        make_memory("expire-span").set_max_span(0)


def test_mean_span_loss_normalised_by_max_span() -> None:
    spans = torch.tensor([10.0, 30.0], requires_grad=True)
    loss = mean_span_loss(spans, max_span=100)
    loss.backward()
    assert loss.item() == pytest.approx(0.2)
    assert spans.grad is not None
    assert torch.allclose(spans.grad, torch.full((2,), 0.005))


def test_ramp_span_loss_counts_only_ramp() -> None:
    span = torch.tensor([[10.0, 10.0, 10.0]], dtype=torch.float64, requires_grad=True)
    age = torch.tensor([[[5.0, 12.0, 30.0]]], dtype=torch.float64)  # alive, on ramp, expired
    mask = expire_mask(span, age, RAMP)
    loss = ramp_span_loss(mask, n_queries=1)
    loss.backward()
    assert loss.item() == pytest.approx(0.5)
    assert span.grad is not None
    assert span.grad.tolist() == [[0.0, pytest.approx(1 / RAMP), 0.0]]


def test_shortened_spans_stay_below_max() -> None:
    torch.manual_seed(0)
    spans = torch.full((2, 5), 90.0)
    shortened = shorten_spans(spans, max_span=100)
    assert (shortened <= spans).all()
    assert (shortened == shortened[0, 0]).all()


def test_age_buckets_match_reference() -> None:
    n_buckets, max_relative_position = 32, 1024
    table = age_bucket_table(n_buckets, max_relative_position)
    expected = [age_bucket(a, n_buckets, max_relative_position) for a in range(1025)]
    assert table.tolist() == expected
    assert table[:16].tolist() == list(range(16))
    assert table[-1].item() == n_buckets - 1
    assert (table.diff() >= 0).all()
    assert len(set(table.tolist())) == n_buckets


def test_attention_weights_sum_to_one(make_memory) -> None:
    memory = make_memory("expire-span", span_std=2.0)
    x = torch.randn(3, 30, 16, dtype=torch.float64)
    starts = torch.zeros(3, 30, dtype=torch.bool)
    starts[:, 0] = True
    starts[1, 17] = True
    _, diagnostics = memory.forward_sequence(x, starts, memory.initial_state(3), True)
    assert diagnostics.attention is not None
    assert diagnostics.mask is not None
    for weights, mask in zip(diagnostics.attention, diagnostics.mask, strict=True):
        ones = torch.ones(3, 2, 30, dtype=torch.float64)
        assert torch.allclose(weights.sum(dim=-1), ones, atol=1e-12, rtol=0)
        assert ((mask < 1) & (mask > 0)).any(), "no memory on its ramp: the test is too easy"
        assert (weights[(mask == 0).unsqueeze(1).expand_as(weights)] == 0).all()
