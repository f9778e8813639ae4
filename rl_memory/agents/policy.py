"""MemoryPolicy: observation encoder -> episode memory -> policy and value heads.

Dimension letters: B envs (acting) or env chunks (learning), T time steps of a chunk,
D memory width.

The memory is the seam: any ``EpisodeMemory`` that ``rl_memory.memory.build_memory`` returns
(Expire-Span, Transformer-XL window, all memories, none) sits between the encoder and the
heads. Acting (``forward``) steps the memory one frame per env. Learning
(``forward_sequence``) recomputes a chunk of frames per env through the memory's
``forward_sequence``, and the memory contract keeps both equal.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from functools import partial
from typing import Any, NamedTuple, cast

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.distributions import (
    CategoricalDistribution,
    DiagGaussianDistribution,
    Distribution,
    make_proba_distribution,
)
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.torch_layers import create_mlp
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from torch import Tensor, nn

from rl_memory.agents.encoder import EncoderConfig, ObservationEncoder
from rl_memory.memory import MemoryConfig, MemoryDiagnostics, MemoryState, build_memory

SUPPORTED_ACTION_SPACES = (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary, spaces.Box)


class ActingStep(NamedTuple):
    """Outputs of one acting step for a batch of envs."""

    actions: Tensor  # [B, *action_shape]
    values: Tensor  # [B]
    log_probs: Tensor  # [B]
    state: MemoryState
    diagnostics: MemoryDiagnostics


class SequenceEvaluation(NamedTuple):
    """The learner's recomputation of a chunk of steps per env."""

    values: Tensor  # [B, T]
    log_prob: Tensor  # [B, T]
    entropy: Tensor  # [B, T]
    diagnostics: MemoryDiagnostics


def _as_config(value: Any, config_class: type, name: str) -> Any:
    if value is None:
        return config_class()
    if isinstance(value, config_class):
        return value
    if isinstance(value, dict):
        return config_class(**value)
    raise ValueError(
        f"policy_kwargs[{name!r}]={value!r} is invalid: pass a {config_class.__name__} "
        "or a dict of its fields."
    )


def _head_layers(net_arch: list[int] | dict[str, list[int]]) -> tuple[list[int], list[int]]:
    if isinstance(net_arch, dict):
        if set(net_arch) != {"pi", "vf"}:
            raise ValueError(
                f"net_arch={net_arch!r} is invalid: a dict needs exactly the keys 'pi' and 'vf'."
            )
        return list(net_arch["pi"]), list(net_arch["vf"])
    return list(net_arch), list(net_arch)


def _batch_size(obs: PyTorchObs) -> int:
    if isinstance(obs, dict):
        return int(next(iter(obs.values())).shape[0])
    return int(obs.shape[0])


class MemoryPolicy(BasePolicy):
    """Actor-critic policy whose heads read the output of an episode memory.

    Args:
        observation_space: observation space of the VecEnv.
        action_space: ``Discrete``, ``MultiDiscrete``, ``MultiBinary`` or ``Box``.
        lr_schedule: learning-rate schedule; the optimizer starts at ``lr_schedule(1)``.
        memory: the memory's configuration (``MemoryConfig`` or a dict of its fields).
        encoder: the encoder's configuration (``EncoderConfig`` or a dict of its fields).
        net_arch: hidden layers of the policy and value heads after the memory, as in SB3:
            a list shared by both, or ``dict(pi=[...], vf=[...])``.
        activation_fn: activation of the heads' hidden layers.
        ortho_init: orthogonal initialisation of the heads (gain 0.01 for the action logits
            and 1 for the value), as SB3's ``ActorCriticPolicy`` does.
        log_std_init: initial log standard deviation for ``Box`` actions.
        use_sde: must be False; accepted because ``OnPolicyAlgorithm`` passes it.
        normalize_images: must be False, because the encoder reads grids as indices.
        optimizer_class: optimizer; its parameters come in two groups, ``"main"`` and
            ``"span"`` (the memory's span predictor), so the span can get its own rate.
        optimizer_kwargs: extra optimizer arguments (default for Adam: ``eps=1e-5``).
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        memory: MemoryConfig | dict[str, Any] | None = None,
        encoder: EncoderConfig | dict[str, Any] | None = None,
        net_arch: list[int] | dict[str, list[int]] | None = None,
        activation_fn: type[nn.Module] = nn.Tanh,
        ortho_init: bool = True,
        log_std_init: float = 0.0,
        use_sde: bool = False,
        normalize_images: bool = False,
        optimizer_class: type[torch.optim.Optimizer] = torch.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
    ):
        if use_sde:
            raise ValueError("use_sde=True is not supported by MemoryPolicy: pass use_sde=False.")
        if normalize_images:
            raise ValueError(
                "normalize_images=True is not supported by MemoryPolicy, because its encoder "
                "reads grid observations as categorical indices: pass normalize_images=False."
            )
        if not isinstance(action_space, SUPPORTED_ACTION_SPACES):
            raise ValueError(
                f"Action space {action_space} is not supported by MemoryPolicy: use Discrete, "
                "MultiDiscrete, MultiBinary or Box."
            )
        if optimizer_kwargs is None:
            optimizer_kwargs = {"eps": 1e-5} if optimizer_class is torch.optim.Adam else {}
        super().__init__(
            observation_space,
            action_space,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs,
            normalize_images=False,
        )
        self.memory_config: MemoryConfig = _as_config(memory, MemoryConfig, "memory")
        self.encoder_config: EncoderConfig = _as_config(encoder, EncoderConfig, "encoder")
        self.net_arch = net_arch if net_arch is not None else dict(pi=[64], vf=[64])
        self.activation_fn = activation_fn
        self.ortho_init = ortho_init
        self.log_std_init = log_std_init

        self.encoder = ObservationEncoder(observation_space, self.encoder_config)
        self.memory = build_memory(self.memory_config)
        d_model = self.memory.d_model
        self.project: nn.Module = (
            nn.Identity()
            if self.encoder.features_dim == d_model
            else nn.Linear(self.encoder.features_dim, d_model)
        )
        self._build_heads(d_model)
        self._build_optimizer(lr_schedule)

    def _build_heads(self, d_model: int) -> None:
        pi_layers, vf_layers = _head_layers(self.net_arch)
        self.pi_net = nn.Sequential(*create_mlp(d_model, -1, pi_layers, self.activation_fn))
        self.vf_net = nn.Sequential(*create_mlp(d_model, -1, vf_layers, self.activation_fn))
        latent_pi = pi_layers[-1] if pi_layers else d_model
        latent_vf = vf_layers[-1] if vf_layers else d_model

        self.action_dist: Distribution = make_proba_distribution(self.action_space)
        self.action_net: nn.Module
        if isinstance(self.action_dist, DiagGaussianDistribution):
            self.action_net, self.log_std = self.action_dist.proba_distribution_net(
                latent_dim=latent_pi, log_std_init=self.log_std_init
            )
        else:
            self.action_net = cast(
                nn.Module, self.action_dist.proba_distribution_net(latent_dim=latent_pi)
            )
        self.value_net = nn.Linear(latent_vf, 1)

        if self.ortho_init:
            gains: list[tuple[nn.Module, float]] = [
                (self.pi_net, np.sqrt(2)),
                (self.vf_net, np.sqrt(2)),
                (self.action_net, 0.01),
                (self.value_net, 1.0),
            ]
            for module, gain in gains:
                module.apply(partial(self.init_weights, gain=gain))

    def _build_optimizer(self, lr_schedule: Schedule) -> None:
        span_ids = {id(p) for p in self.memory.span_parameters()}
        main = [p for p in self.parameters() if id(p) not in span_ids]
        span = [p for p in self.parameters() if id(p) in span_ids]
        self.optimizer = self.optimizer_class(
            [{"params": main, "name": "main"}, {"params": span, "name": "span"}],
            lr=lr_schedule(1),  # type: ignore[call-arg]
            **self.optimizer_kwargs,
        )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            memory=asdict(self.memory_config),
            encoder=asdict(self.encoder_config),
            net_arch=self.net_arch,
            activation_fn=self.activation_fn,
            ortho_init=self.ortho_init,
            log_std_init=self.log_std_init,
            lr_schedule=self._dummy_schedule,
            optimizer_class=self.optimizer_class,
            optimizer_kwargs=self.optimizer_kwargs,
        )
        return data

    def set_max_span(self, max_span: int) -> None:
        """Set the Expire-Span memory's L_max: every span scales by the same factor.

        An agent trained on a short task can then keep its memories for longer ones. The
        new value is saved with the agent.

        Raises:
            ValueError: If the memory is not Expire-Span or ``max_span`` is below 1.
        """
        self.memory.set_max_span(max_span)
        self.memory_config = replace(self.memory_config, max_span=max_span)

    def initial_state(self, n_envs: int) -> MemoryState:
        """Return an empty memory state for ``n_envs`` envs, on the policy's device."""
        return self.memory.initial_state(n_envs, self.device)

    def _distribution(self, latent_pi: Tensor) -> Distribution:
        mean_actions = self.action_net(latent_pi)
        if isinstance(self.action_dist, DiagGaussianDistribution):
            return self.action_dist.proba_distribution(mean_actions, self.log_std)
        return self.action_dist.proba_distribution(action_logits=mean_actions)  # type: ignore[call-arg]

    def _encode(self, obs: PyTorchObs) -> Tensor:
        return self.project(self.encoder(obs))  # [B, D]

    def _step_memory(
        self, obs: PyTorchObs, state: MemoryState, episode_start: Tensor
    ) -> tuple[Tensor, MemoryState, MemoryDiagnostics]:
        return self.memory.step(self._encode(obs), state, episode_start.bool())

    def forward(  # type: ignore[override]
        self,
        obs: PyTorchObs,
        state: MemoryState,
        episode_start: Tensor,
        deterministic: bool = False,
    ) -> ActingStep:
        """Act one step for a batch of envs.

        Args:
            obs: observations [B, ...] (or a dict of those), raw as the VecEnv returns them.
            state: the memory state after each env's previous frame.
            episode_start: [B] bool, True where ``obs`` is the first of an episode; those
                envs' memories are cleared before the frame is stored.
            deterministic: take the most likely action instead of sampling.

        Returns:
            actions [B, ...], values [B], log_probs [B], the new state and diagnostics.
        """
        memory_out, new_state, diagnostics = self._step_memory(obs, state, episode_start)
        distribution = self._distribution(self.pi_net(memory_out))
        actions = distribution.get_actions(deterministic=deterministic)
        values = self.value_net(self.vf_net(memory_out)).squeeze(-1)
        return ActingStep(actions, values, distribution.log_prob(actions), new_state, diagnostics)

    def evaluate_actions(
        self, obs: PyTorchObs, actions: Tensor, state: MemoryState, episode_start: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, MemoryState]:
        """Evaluate given actions for one step of a batch of envs, through the acting path.

        Args:
            obs: observations [B, ...] (or a dict of those).
            actions: actions [B, *action_shape] (Discrete: [B] or [B, 1]).
            state: the memory state after each env's previous frame.
            episode_start: [B] bool.

        Returns:
            values [B], log_prob [B], entropy [B] and the new memory state.
        """
        memory_out, new_state, _ = self._step_memory(obs, state, episode_start)
        distribution = self._distribution(self.pi_net(memory_out))
        log_prob = distribution.log_prob(self._prepare_actions(actions))
        entropy = distribution.entropy()
        assert entropy is not None, "every supported action space has an analytic entropy"
        values = self.value_net(self.vf_net(memory_out)).squeeze(-1)
        return values, log_prob, entropy, new_state

    def _prepare_actions(self, actions: Tensor) -> Tensor:
        if isinstance(self.action_dist, CategoricalDistribution):
            return actions.long().reshape(-1)
        return actions

    def predict_values(self, obs: PyTorchObs, state: MemoryState, episode_start: Tensor) -> Tensor:
        """Return the values [B] of ``obs`` read through the memory ``state``, which is kept."""
        memory_out, _, _ = self._step_memory(obs, state, episode_start)
        return self.value_net(self.vf_net(memory_out)).squeeze(-1)

    def forward_sequence(
        self,
        obs: PyTorchObs,
        actions: Tensor,
        episode_start: Tensor,
        state: MemoryState,
    ) -> SequenceEvaluation:
        """Recompute a chunk of T consecutive steps for each of B envs, with gradients.

        Args:
            obs: observations [B, T, ...] (or a dict of those).
            actions: actions taken [B, T, *action_shape] (Discrete: [B, T] or [B, T, 1]).
            episode_start: [B, T] bool.
            state: the acting state from just before step 0 of the chunk.

        Returns:
            values [B, T], log_prob [B, T], entropy [B, T] and the memory's diagnostics.
        """
        n_chunks, n_steps = episode_start.shape
        if isinstance(obs, dict):
            flat_obs: PyTorchObs = {k: v.flatten(0, 1) for k, v in obs.items()}  # [B*T, ...]
        else:
            flat_obs = obs.flatten(0, 1)
        x = self._encode(flat_obs).unflatten(0, (n_chunks, n_steps))  # [B, T, D]
        memory_out, diagnostics = self.memory.forward_sequence(x, episode_start.bool(), state)
        memory_out = memory_out.flatten(0, 1)  # [B*T, D]

        distribution = self._distribution(self.pi_net(memory_out))
        flat_actions = self._prepare_actions(actions.flatten(0, 1))
        log_prob = distribution.log_prob(flat_actions).reshape(n_chunks, n_steps)
        entropy = distribution.entropy()
        assert entropy is not None, "every supported action space has an analytic entropy"
        values = self.value_net(self.vf_net(memory_out)).reshape(n_chunks, n_steps)
        return SequenceEvaluation(values, log_prob, entropy.reshape(n_chunks, n_steps), diagnostics)

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> Tensor:
        """Act on ``observation`` as the first frame of an episode, with an empty memory."""
        n_envs = _batch_size(observation)
        starts = torch.ones(n_envs, dtype=torch.bool, device=self.device)
        return self(observation, self.initial_state(n_envs), starts, deterministic).actions

    def predict(  # type: ignore[override]
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: MemoryState | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, MemoryState]:
        """Return actions for the observations and the memory state after them (SB3 contract).

        Args:
            observation: one observation or a batch [B, ...] (dict for Dict spaces).
            state: the state returned by the previous call, or None for an empty memory.
            episode_start: [B] bool, True where the observation starts an episode (clears
                that env's memory). None means no episode starts, unless ``state`` is None.
            deterministic: take the most likely actions.

        Returns:
            actions (batched like ``observation``) and the new ``MemoryState``.
        """
        self.set_training_mode(False)
        if isinstance(observation, tuple) and len(observation) == 2:
            raise ValueError(
                "predict() received a tuple (observation, info): pass only the observation, "
                "as returned by a VecEnv or by env.reset()[0]."
            )
        obs_tensor, vectorized_env = self.obs_to_tensor(observation)
        n_envs = _batch_size(obs_tensor)
        starts = self._episode_starts(state, episode_start, n_envs)
        if state is None:
            state = self.initial_state(n_envs)

        with torch.no_grad():
            step = self(obs_tensor, state, starts, deterministic)
        actions = step.actions.cpu().numpy().reshape((-1, *self.action_space.shape))  # type: ignore[misc]
        if isinstance(self.action_space, spaces.Box):
            actions = np.clip(actions, self.action_space.low, self.action_space.high)
        if not vectorized_env:
            actions = actions.squeeze(axis=0)
        return actions, step.state

    def _episode_starts(
        self, state: MemoryState | None, episode_start: np.ndarray | None, n_envs: int
    ) -> Tensor:
        if state is not None and not isinstance(state, MemoryState):
            raise ValueError(
                f"state={type(state).__name__} is invalid for MemoryPolicy: pass the "
                "MemoryState returned by the previous predict() call, or None."
            )
        if state is not None and state.n_envs != n_envs:
            raise ValueError(
                f"state has {state.n_envs} envs but the observation has {n_envs}: pass "
                "state=None to start fresh or keep one state per batch of envs."
            )
        if state is None or episode_start is None:
            return torch.full((n_envs,), state is None, dtype=torch.bool, device=self.device)
        starts = torch.as_tensor(np.asarray(episode_start), device=self.device).bool().reshape(-1)
        if starts.shape[0] != n_envs:
            raise ValueError(
                f"episode_start has {starts.shape[0]} entries but the observation has {n_envs} "
                "envs: pass one flag per env."
            )
        return starts
