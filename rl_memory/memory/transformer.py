"""Transformer episode memories: Expire-Span, a Transformer-XL window, and all memories.

The three kinds share one layer stack and differ only in which memories a query may see and
which the acting cache keeps:

- ``expire-span``: memory i is seen with the soft mask ``m = clamp(1 + (e_i - age) / R, 0, 1)``
  and dropped from the cache once ``m`` is 0 for the next query (ages only grow, so it stays 0).
- ``transformer-xl``: the query attends to its own frame and the previous ``window`` frames; the
  cache keeps exactly the last ``window`` frames.
- ``all``: every frame of the episode is kept.

Acting (``step``) and learning (``forward_sequence``) call the same ``MemoryLayer.attend``.
Memories are detached layer inputs: in ``step`` every key and value is read from the cache,
and in ``forward_sequence`` the carried-in memories of ``state`` are detached while the keys,
values and spans of the chunk's own frames carry gradients (full backpropagation inside the
chunk, as in Transformer-XL). Both modes give the same outputs for the same parameters.

Shapes use the letters of ``rl_memory.memory.base``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import cast

import torch
from torch import Tensor, nn

from rl_memory.memory.base import EpisodeMemory, MemoryConfig, MemoryDiagnostics, MemoryState
from rl_memory.memory.cache import (
    ActingCache,
    LayerBuffers,
    Lineage,
    compact,
    needs_compaction,
)
from rl_memory.memory.expire_span import (
    expire_mask,
    mean_span_loss,
    ramp_span_loss,
    shorten_spans,
)
from rl_memory.memory.layer import AttentionResult, MemoryLayer
from rl_memory.memory.validation import check_sequence_inputs, check_step_inputs


class TransformerMemory(EpisodeMemory):
    """A pre-LN transformer over the frames of the current episode, one frame per step."""

    def __init__(self, config: MemoryConfig) -> None:
        super().__init__()
        self.config = config
        self.kind = config.kind
        self.expires = config.kind == "expire-span"
        self.layers = nn.ModuleList(
            [MemoryLayer(config, with_span=self.expires) for _ in range(config.n_layers)]
        )
        self.norm_out = nn.LayerNorm(config.d_model)
        self._tracked_parameters: list[nn.Parameter] | None = None

    @property
    def memory_layers(self) -> list[MemoryLayer]:
        """The layer stack, typed."""
        return [cast(MemoryLayer, layer) for layer in self.layers]

    def span_parameters(self) -> list[nn.Parameter]:
        """Return the span predictors' parameters, e.g. to give them their own learning rate."""
        spans = [layer.span for layer in self.memory_layers if layer.span is not None]
        return [p for span in spans for p in span.parameters()]

    def set_max_span(self, max_span: int) -> None:
        """Set L_max of every span predictor, e.g. to run the memory on a longer task.

        A span is a fraction of L_max (``SpanPredictor``), so every span scales by the same
        factor. Memories already stored take their new spans at the next step.

        Raises:
            ValueError: For kinds without expiry, or if ``max_span`` is below 1.
        """
        if not self.expires:
            super().set_max_span(max_span)
        if max_span < 1:
            raise ValueError(f"max_span must be at least 1, got {max_span}")
        self.config = replace(self.config, max_span=max_span)
        for layer in self.memory_layers:
            if layer.span is not None:
                layer.span.max_span = max_span

    def initial_state(self, n_envs: int, device: torch.device | str = "cpu") -> MemoryState:
        dtype = self.norm_out.weight.dtype
        n_layers, d_model = self.config.n_layers, self.config.d_model
        return MemoryState(
            hidden=[torch.zeros(n_envs, 0, d_model, dtype=dtype, device=device)] * n_layers,
            step=[torch.zeros(n_envs, 0, dtype=torch.long, device=device)] * n_layers,
            valid=[torch.zeros(n_envs, 0, dtype=torch.bool, device=device)] * n_layers,
            episode_step=torch.zeros(n_envs, dtype=torch.long, device=device),
        )

    # ------------------------------------------------------------------ visibility and pruning

    def _visible(self, visible: Tensor, age: Tensor) -> Tensor:
        """Restrict ``visible`` [B, T, M] to the window for the Transformer-XL kind."""
        if self.kind == "transformer-xl":
            return visible & (age <= self.config.window)
        return visible

    def _keep(self, valid: Tensor, next_age: Tensor, span: Tensor) -> Tensor:
        """Return which memories [B, M] the next query can still see, given their next age."""
        if self.kind == "transformer-xl":
            return valid & (next_age <= self.config.window)
        if self.kind == "expire-span":
            mask = expire_mask(span, next_age.unsqueeze(1), self.config.ramp).squeeze(1)
            return valid & (mask > 0)
        return valid

    def _span_loss(self, spans: list[Tensor], masks: list[Tensor], n_queries: int) -> Tensor:
        """Sum the auxiliary span loss over layers, times its coefficient."""
        zero = self.norm_out.weight.new_zeros(())
        if not self.expires or self.config.span_loss_coef == 0:
            return zero
        if self.config.span_loss == "mean":
            losses = [mean_span_loss(s, self.config.max_span) for s in spans]
        else:
            losses = [ramp_span_loss(m, n_queries) for m in masks]
        return self.config.span_loss_coef * torch.stack(losses).sum()

    # ------------------------------------------------------------------------------- acting

    def _cache_version(self) -> tuple[tuple[int, int], ...]:
        """Identify what cached keys, values and spans depend on: the parameters and L_max.

        Any in-place update of a parameter bumps its ``_version``. ``Module.to``, ``double``
        and ``load_state_dict`` keep the Parameter objects and change their data or version,
        so the list of parameters is collected once.
        """
        # NOTE: replacing a Parameter object after construction (assigning a new
        # nn.Parameter to a submodule) is not detected; call ``reset_parameter_tracking``.
        if self._tracked_parameters is None:
            self._tracked_parameters = list(self.parameters())
        parameters = tuple((p.data_ptr(), p._version) for p in self._tracked_parameters)
        return (*parameters, (-1, self.config.max_span))  # data_ptr is never negative

    def reset_parameter_tracking(self) -> None:
        """Collect the parameters again after Parameter objects were replaced."""
        self._tracked_parameters = None

    def _build_cache(
        self, state: MemoryState, version: tuple[tuple[int, int], ...], like: Tensor
    ) -> tuple[ActingCache, list[Tensor]]:
        """Compute keys, values and spans of every stored memory with the current parameters.

        The buffers take the dtype and device of ``like`` (the frames being stepped).
        """
        layers, valids, fills = [], [], []
        for layer, hidden, step, valid in zip(
            self.memory_layers, state.hidden, state.step, state.valid, strict=True
        ):
            valid, step = valid.to(like.device), step.to(like.device)
            hidden = hidden.detach().to(like).masked_fill(~valid.unsqueeze(2), 0.0)
            with torch.no_grad():
                key, value = layer.keys_values(hidden)
                span = (
                    layer.span(hidden) if layer.span is not None else hidden.new_zeros(valid.shape)
                )
            source = LayerBuffers(hidden=hidden, step=step, key=key, value=value, span=span)
            buffers, new_valid, fill = compact(source, valid, hidden.shape[1])
            layers.append(buffers)
            valids.append(new_valid)
            fills.append(fill)
        cache = ActingCache(layers, fills, version, Lineage(), object())
        cache.lineage.tip = cache.token
        return cache, valids

    def _acting_cache(self, state: MemoryState, like: Tensor) -> tuple[ActingCache, list[Tensor]]:
        """Return a cache this step may append to in place, and the valid masks that go with it."""
        version = self._cache_version()
        cache = state.cache
        usable = (
            isinstance(cache, ActingCache)
            and cache.version == version
            and len(cache.layers) == len(self.layers)
            and all(
                b.hidden.dtype == like.dtype and b.hidden.device == like.device
                for b in cache.layers
            )
        )
        if not usable:
            return self._build_cache(state, version, like)
        assert isinstance(cache, ActingCache)
        if cache.owns_tip() and all(
            f < b.capacity for f, b in zip(cache.fill, cache.layers, strict=True)
        ):
            return cache, list(state.valid)

        # Copy-on-write: another state already appended to these buffers.
        layers, valids, fills = [], [], []
        for buffers, valid, fill in zip(cache.layers, state.valid, cache.fill, strict=True):
            new_buffers, new_valid, new_fill = compact(buffers, valid, fill)
            layers.append(new_buffers)
            valids.append(new_valid)
            fills.append(new_fill)
        copy = ActingCache(layers, fills, version, Lineage(), object())
        copy.lineage.tip = copy.token
        return copy, valids

    def step(
        self,
        x: Tensor,
        state: MemoryState,
        episode_start: Tensor,
        return_attention: bool = False,
    ) -> tuple[Tensor, MemoryState, MemoryDiagnostics]:
        check_step_inputs(x, state, episode_start, self.config)
        cache, valids = self._acting_cache(state, x)
        start = episode_start.to(device=x.device, dtype=torch.bool)
        episode_step = torch.where(start, torch.zeros_like(state.episode_step), state.episode_step)
        not_start = ~start.unsqueeze(1)
        ones = torch.ones(x.shape[0], 1, dtype=torch.bool, device=x.device)

        hidden = x
        new_layers, new_fill, new_valid = [], [], []
        spans, masks, retained, memory_steps, memory_spans, weights = [], [], [], [], [], []
        for layer, buffers, fill, valid in zip(
            self.memory_layers, cache.layers, cache.fill, valids, strict=True
        ):
            # Append this frame (layer input, step, key, value, span) at column ``fill``.
            query, key, value = layer.project(hidden.unsqueeze(1))  # [B, H, 1, Dh]
            span = layer.span(hidden) if layer.span is not None else None  # [B]
            buffers.hidden[:, fill] = hidden.detach()
            buffers.step[:, fill] = episode_step
            buffers.key[:, :, fill] = key[:, :, 0].detach()
            buffers.value[:, :, fill] = value[:, :, 0].detach()
            if span is not None:
                buffers.span[:, fill] = span.detach()
            n_memories = fill + 1
            layer_valid = torch.cat([valid & not_start, ones], dim=1)  # [B, M]

            memory_step = buffers.step[:, :n_memories]
            memory_span = buffers.span[:, :n_memories]
            age = (episode_step.unsqueeze(1) - memory_step).unsqueeze(1)  # [B, 1, M]
            result: AttentionResult = layer.attend(
                hidden.unsqueeze(1),
                query,
                buffers.key[:, :, :n_memories],
                buffers.value[:, :, :n_memories],
                age,
                self._visible(layer_valid.unsqueeze(1), age),
                memory_span if self.expires else None,
            )
            hidden = result.hidden.squeeze(1)

            # Prune what the next query cannot see, then compact if the padding grew.
            keep = self._keep(layer_valid, age.squeeze(1) + 1, memory_span)
            count_max = int(keep.sum(dim=1).max())
            if needs_compaction(n_memories, count_max, buffers.capacity):
                buffers, keep, n_memories = compact(buffers, keep, n_memories)
            new_layers.append(buffers)
            new_fill.append(n_memories)
            new_valid.append(keep)

            mask = result.mask.squeeze(1)
            masks.append(mask)
            retained.append((mask > 0).sum(dim=1))
            memory_steps.append(torch.where(layer_valid, memory_step, -1))
            if span is not None:
                spans.append(span)
                memory_spans.append(torch.where(layer_valid, memory_span, 0.0))
            if return_attention:
                weights.append(result.weights.squeeze(2))

        new_cache = ActingCache(new_layers, new_fill, cache.version, cache.lineage, object())
        cache.lineage.tip = new_cache.token
        new_state = MemoryState(
            hidden=[b.hidden[:, :f] for b, f in zip(new_layers, new_fill, strict=True)],
            step=[b.step[:, :f] for b, f in zip(new_layers, new_fill, strict=True)],
            valid=new_valid,
            episode_step=episode_step + 1,
            cache=new_cache,
        )
        diagnostics = MemoryDiagnostics(
            span_loss=self._span_loss(spans, [m.unsqueeze(1) for m in masks], x.shape[0]),
            retained=torch.stack(retained),
            span=torch.stack(spans) if spans else None,
            memory_span=memory_spans or None,
            memory_step=memory_steps,
            mask=masks,
            attention=weights if return_attention else None,
        )
        return self.norm_out(hidden), new_state, diagnostics

    # ----------------------------------------------------------------------------- learning

    def forward_sequence(
        self,
        x: Tensor,
        episode_start: Tensor,
        state: MemoryState,
        return_attention: bool = False,
    ) -> tuple[Tensor, MemoryDiagnostics]:
        check_sequence_inputs(x, episode_start, state, self.config)
        n_envs, n_steps, _ = x.shape
        start = episode_start.to(device=x.device, dtype=torch.bool)
        frame_step, segment = chunk_steps(start, state.episode_step.to(x.device))

        time = torch.arange(n_steps, device=x.device)
        causal = time.view(1, -1, 1) >= time.view(1, 1, -1)  # [1, T, T]
        chunk_visible = causal & (segment.unsqueeze(2) == segment.unsqueeze(1))  # [B, T, T]
        chunk_age = frame_step.unsqueeze(2) - frame_step.unsqueeze(1)  # [B, T, T]
        before_first_start = (segment == 0).unsqueeze(2)  # [B, T, 1]
        shortening = (
            self.training
            and self.expires
            and self.config.span_shortening > 0
            and float(torch.rand(())) < self.config.span_shortening
        )

        hidden = x
        spans, masks, retained, memory_steps, weights = [], [], [], [], []
        for layer, carried, carried_step, carried_valid in zip(
            self.memory_layers, state.hidden, state.step, state.valid, strict=True
        ):
            carried = carried.detach().masked_fill(~carried_valid.unsqueeze(2), 0.0)
            carried_key, carried_value = layer.keys_values(carried)  # [B, H, Mc, Dh]
            query, chunk_key, chunk_value = layer.project(hidden)  # [B, H, T, Dh]
            key = torch.cat([carried_key, chunk_key], dim=2)
            value = torch.cat([carried_value, chunk_value], dim=2)
            carried_age = frame_step.unsqueeze(2) - carried_step.unsqueeze(1)  # [B, T, Mc]
            age = torch.cat([carried_age, chunk_age], dim=2)  # [B, T, M]
            visible = torch.cat([before_first_start & carried_valid.unsqueeze(1), chunk_visible], 2)

            span = None
            if layer.span is not None:
                span = layer.span(torch.cat([carried, hidden], dim=1))  # [B, Mc + T]
            mask_span = span
            if span is not None and shortening:
                mask_span = shorten_spans(span, self.config.max_span)
            visible = self._visible(visible, age)
            result = layer.attend(hidden, query, key, value, age, visible, mask_span)
            hidden = result.hidden

            masks.append(result.mask)
            retained.append((result.mask > 0).sum(dim=2))
            memory_steps.append(
                torch.cat([torch.where(carried_valid, carried_step, -1), frame_step], dim=1)
            )
            if span is not None:
                spans.append(span[:, carried.shape[1] :])
            if return_attention:
                weights.append(result.weights)

        diagnostics = MemoryDiagnostics(
            span_loss=self._span_loss(spans, masks, n_envs * n_steps),
            retained=torch.stack(retained),
            span=torch.stack(spans) if spans else None,
            memory_step=memory_steps,
            mask=masks,
            attention=weights if return_attention else None,
        )
        return self.norm_out(hidden), diagnostics


def chunk_steps(episode_start: Tensor, first_step: Tensor) -> tuple[Tensor, Tensor]:
    """Return the episode step and episode segment of every frame of a chunk.

    Args:
        episode_start: [B, T] bool.
        first_step: [B] episode step of frame 0 if it does not start an episode.

    Returns:
        frame_step [B, T] long, and segment [B, T] long: the number of episode starts up to
        and including each frame (0 for frames of the episode carried in from ``state``).
    """
    n_steps = episode_start.shape[1]
    time = torch.arange(n_steps, device=episode_start.device).expand_as(episode_start)
    segment = episode_start.long().cumsum(dim=1)
    last_start = torch.where(episode_start, time, -1).cummax(dim=1).values
    frame_step = torch.where(last_start >= 0, time - last_start, first_step.unsqueeze(1) + time)
    return frame_step, segment
