"""ExpireSpanPPO: PPO for policies that read an episode memory, in the SB3 algorithm API.

Dimension letters: T rollout steps, B envs, b envs in a minibatch, N memory layers.

It follows sb3-contrib's ``RecurrentPPO``: an ``OnPolicyAlgorithm`` with its own rollout
collection, its own buffer of whole env chunks, and a ``predict`` that takes the memory
state as ``state``. The memory state is carried from step to step and from rollout to
rollout, and cleared per env when an episode starts. The per-env memory caches are left out
of saved models and rebuilt empty on load, as RecurrentPPO does with its LSTM states.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import is_wrapped
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.preprocessing import check_for_nested_spaces
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import FloatSchedule, explained_variance, obs_as_tensor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv
from torch import Tensor

from rl_memory.agents.buffer import MemoryRolloutBuffer, MemoryRolloutSamples
from rl_memory.agents.policy import MemoryPolicy
from rl_memory.memory import MemoryDiagnostics, MemoryState
from rl_memory.memory.expire_span import mean_span_loss, ramp_span_loss

logger = logging.getLogger(__name__)

SelfExpireSpanPPO = TypeVar("SelfExpireSpanPPO", bound="ExpireSpanPPO")


def split_dones(dones: np.ndarray, infos: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Split SB3 VecEnv ``dones`` into ``terminated`` and ``truncated`` [B] bool arrays.

    A done counts as truncated only when the VecEnv reports ``TimeLimit.truncated`` and
    hands over the ``terminal_observation`` to bootstrap from.
    """
    truncated = np.array(
        [
            bool(done)
            and info.get("TimeLimit.truncated", False)
            and info.get("terminal_observation") is not None
            for done, info in zip(dones, infos, strict=True)
        ],
        dtype=bool,
    )
    return np.asarray(dones, dtype=bool) & ~truncated, truncated


class MemoryStats:
    """Per-layer statistics of what the memory kept while acting, gathered over a rollout."""

    def __init__(self) -> None:
        self.retained: list[Tensor] = []  # T x [N, B]
        self.span: list[Tensor] = []  # T x [N, B]

    def add(self, diagnostics: MemoryDiagnostics) -> None:
        self.retained.append(diagnostics.retained)
        if diagnostics.span is not None:
            self.span.append(diagnostics.span)

    def metrics(self) -> dict[str, float]:
        """Return ``memory/{retained,span}_{mean,max}``, overall and per ``/layer{i}``."""
        metrics: dict[str, float] = {}
        for name, values in (("retained", self.retained), ("span", self.span)):
            if not values or values[0].numel() == 0:
                continue
            stacked = torch.stack(values).float().transpose(0, 1).flatten(1)  # [N, T*B]
            metrics[f"memory/{name}_mean"] = stacked.mean().item()
            metrics[f"memory/{name}_max"] = stacked.max().item()
            for layer, layer_values in enumerate(stacked):
                metrics[f"memory/{name}_mean/layer{layer}"] = layer_values.mean().item()
                metrics[f"memory/{name}_max/layer{layer}"] = layer_values.max().item()
        return metrics


class ExpireSpanPPO(OnPolicyAlgorithm):
    """Proximal Policy Optimization (clip) for a policy with an episode memory.

    Args:
        policy: ``"MemoryPolicy"`` or a ``MemoryPolicy`` subclass.
        env: the environment (a VecEnv, a gymnasium Env or a registered id).
        learning_rate: learning rate of every parameter except the span predictor's; a float
            or a schedule of the remaining progress (1 to 0).
        n_steps: steps per env per rollout (T).
        n_epochs: passes over the rollout per update.
        batch_envs: env chunks (whole rollouts of one env, [T] steps each) per minibatch. When
            it does not divide the number of envs, the last minibatch contains the rest.
        gamma: discount factor.
        gae_lambda: GAE lambda.
        clip_range: PPO clipping parameter, a float or a schedule.
        ent_coef: entropy coefficient.
        vf_coef: value-loss coefficient.
        max_grad_norm: maximum gradient norm.
        span_learning_rate: learning rate of the memory's span predictor
            (``memory.span_parameters()``), a float or a schedule; None uses
            ``learning_rate``. Under Adam the spans fall steadily even when the policy does
            not yet use the memory, and a cue whose span has fallen below the recall delay
            gets no gradient again. A rate about 10x below ``learning_rate`` kept the
            spans of a four-cell corridor above its delay; expect longer delays to need
            smaller rates.
        policy_kwargs: ``{"memory": MemoryConfig, "encoder": EncoderConfig}`` and other
            ``MemoryPolicy`` arguments.
        tensorboard_log: tensorboard log folder, or None.
        seed: seed of the random generators.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        verbose: 0 silent, 1 info, 2 debug.
        normalize_advantage: normalise advantages per minibatch.
        target_kl: stop the epochs of an update early when the approximate KL divergence
            exceeds 1.5 times this value; None never stops.
        stats_window_size: episodes averaged in the ``rollout/`` metrics.

    The SB3 logger receives, besides SB3's ``rollout/``, ``train/`` and ``time/`` keys,
    ``memory/retained_mean``, ``memory/retained_max``, ``memory/span_mean``,
    ``memory/span_max`` (while acting, each also per ``/layer{i}``) and ``memory/span_loss``
    (while learning). ``rollout/success_rate`` averages ``info["is_success"]`` of finished
    episodes.
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"MemoryPolicy": MemoryPolicy}
    policy: MemoryPolicy  # type: ignore[assignment]
    rollout_buffer: MemoryRolloutBuffer  # type: ignore[assignment]

    def __init__(
        self,
        policy: str | type[MemoryPolicy] = "MemoryPolicy",
        env: GymEnv | str | None = None,
        learning_rate: float | Schedule = 3e-4,
        n_steps: int = 128,
        n_epochs: int = 4,
        batch_envs: int = 4,
        gamma: float = 0.99,
        gae_lambda: float = 0.95,
        clip_range: float | Schedule = 0.2,
        ent_coef: float = 0.01,
        vf_coef: float = 0.5,
        max_grad_norm: float = 0.5,
        span_learning_rate: float | Schedule | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        tensorboard_log: str | None = None,
        seed: int | None = None,
        device: torch.device | str = "auto",
        verbose: int = 0,
        normalize_advantage: bool = True,
        target_kl: float | None = None,
        stats_window_size: int = 100,
        _init_setup_model: bool = True,
    ):
        if env is None and _init_setup_model:
            raise ValueError("env is missing: pass the environment to train on, e.g. a VecEnv.")
        _check_positive_int("n_steps", n_steps)
        _check_positive_int("n_epochs", n_epochs)
        _check_positive_int("batch_envs", batch_envs)
        super().__init__(
            policy,  # type: ignore[arg-type]
            env,  # type: ignore[arg-type]
            learning_rate=learning_rate,
            n_steps=n_steps,
            gamma=gamma,
            gae_lambda=gae_lambda,
            ent_coef=ent_coef,
            vf_coef=vf_coef,
            max_grad_norm=max_grad_norm,
            use_sde=False,
            sde_sample_freq=-1,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            seed=seed,
            device=device,
            _init_setup_model=False,
            supported_action_spaces=(
                spaces.Box,
                spaces.Discrete,
                spaces.MultiDiscrete,
                spaces.MultiBinary,
            ),
        )
        self.n_epochs = n_epochs
        self.batch_envs = batch_envs
        self.clip_range = clip_range
        self.span_learning_rate = span_learning_rate
        self.normalize_advantage = normalize_advantage
        self.target_kl = target_kl
        self._last_memory_state: MemoryState | None = None

        if _init_setup_model:
            self._setup_model()

    @staticmethod
    def _wrap_env(env: GymEnv, verbose: int = 0, monitor_wrapper: bool = True) -> VecEnv:
        """Wrap a plain env in ``Monitor`` and ``DummyVecEnv`` as SB3 does, but never in
        ``VecTransposeImage``.

        The encoder reads grids as categorical indices in either channel order, so the
        observations keep the env's own layout, and evaluation envs need no extra wrapper.
        """
        if not isinstance(env, VecEnv):
            if monitor_wrapper and not is_wrapped(env, Monitor):
                if verbose >= 1:
                    logger.info("Wrapping the env with a Monitor wrapper")
                env = Monitor(env)
            env = DummyVecEnv([lambda: env])  # type: ignore[list-item, return-value]
        check_for_nested_spaces(env.observation_space)
        return env

    def _setup_model(self) -> None:
        if self.batch_envs > self.n_envs:
            raise ValueError(
                f"batch_envs={self.batch_envs} is larger than the number of envs "
                f"({self.n_envs}): use at most {self.n_envs} env chunks per minibatch."
            )
        self._setup_lr_schedule()
        self.span_lr_schedule = (
            self.lr_schedule
            if self.span_learning_rate is None
            else FloatSchedule(self.span_learning_rate)
        )
        self.set_random_seed(self.seed)

        self.policy = self.policy_class(  # type: ignore[assignment]
            self.observation_space,
            self.action_space,
            self.lr_schedule,
            use_sde=self.use_sde,
            **self.policy_kwargs,
        )
        if not isinstance(self.policy, MemoryPolicy):
            raise ValueError(
                f"policy={type(self.policy).__name__} is invalid: ExpireSpanPPO needs "
                "'MemoryPolicy' or a subclass of it."
            )
        self.policy = self.policy.to(self.device)
        self.rollout_buffer = MemoryRolloutBuffer(
            self.n_steps,
            self.n_envs,
            self.observation_space,
            self.action_space,
            device=self.device,
            gamma=self.gamma,
            gae_lambda=self.gae_lambda,
        )
        self.clip_range = FloatSchedule(self.clip_range)
        # Memories are never saved: a loaded model starts every env with an empty memory, so
        # the next observation must count as an episode start.
        self._last_memory_state = self.policy.initial_state(self.n_envs)
        if self._last_episode_starts is not None:
            self._last_episode_starts = np.ones(self.n_envs, dtype=bool)

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_last_memory_state", "span_lr_schedule"]

    def _update_learning_rate(
        self, optimizers: list[torch.optim.Optimizer] | torch.optim.Optimizer
    ) -> None:
        """Set the main parameter group's rate from ``learning_rate`` and the span group's
        from ``span_learning_rate``."""
        super()._update_learning_rate(optimizers)
        span_lr = self.span_lr_schedule(self._current_progress_remaining)
        self.logger.record("train/span_learning_rate", span_lr)
        for optimizer in optimizers if isinstance(optimizers, list) else [optimizers]:
            span_groups = [g for g in optimizer.param_groups if g.get("name") == "span"]
            for group in span_groups:
                group["lr"] = span_lr

    # --- collect -------------------------------------------------------------------------

    def collect_rollouts(
        self,
        env: VecEnv,
        callback: BaseCallback,
        rollout_buffer: MemoryRolloutBuffer,  # type: ignore[override]
        n_rollout_steps: int,
    ) -> bool:
        """Collect ``n_rollout_steps`` steps per env, stepping the memory once per env step.

        Returns:
            False if a callback stopped training during the rollout, else True.
        """
        assert self._last_obs is not None, "No previous observation was provided"
        assert self._last_episode_starts is not None and self._last_memory_state is not None
        self.policy.set_training_mode(False)
        rollout_buffer.reset(self._last_memory_state)
        memory_stats = MemoryStats()
        callback.on_rollout_start()

        n_steps = 0
        while n_steps < n_rollout_steps:
            with torch.no_grad():
                obs_tensor = obs_as_tensor(self._last_obs, self.device)  # type: ignore[arg-type]
                episode_starts = torch.as_tensor(self._last_episode_starts, device=self.device)
                step = self.policy(obs_tensor, self._last_memory_state, episode_starts)
            actions = step.actions.cpu().numpy()
            clipped_actions = actions
            if isinstance(self.action_space, spaces.Box):
                clipped_actions = np.clip(actions, self.action_space.low, self.action_space.high)

            new_obs, rewards, dones, infos = env.step(clipped_actions)
            self.num_timesteps += env.num_envs
            callback.update_locals(locals())
            if not callback.on_step():
                return False
            self._update_info_buffer(infos, dones)
            n_steps += 1

            terminated, truncated = split_dones(dones, infos)
            final_values = self._final_values(infos, truncated, step.state)
            rollout_buffer.add(
                self._last_obs,  # type: ignore[arg-type]
                actions,
                rewards,
                self._last_episode_starts,
                step.values,
                step.log_probs,
                terminated,
                truncated,
                final_values,
            )
            memory_stats.add(step.diagnostics)
            self._last_obs = new_obs  # type: ignore[assignment]
            self._last_episode_starts = dones
            self._last_memory_state = step.state

        self._finish_rollout(rollout_buffer, new_obs, dones, memory_stats)
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True

    def _finish_rollout(
        self,
        rollout_buffer: MemoryRolloutBuffer,
        new_obs: Any,
        dones: np.ndarray,
        memory_stats: MemoryStats,
    ) -> None:
        """Bootstrap from the next observations, run GAE and record the memory metrics."""
        with torch.no_grad():
            last_values = self.policy.predict_values(
                obs_as_tensor(new_obs, self.device),
                self._last_memory_state,  # type: ignore[arg-type]
                torch.as_tensor(dones, device=self.device),
            )
        rollout_buffer.compute_returns_and_advantage(last_values)
        for key, value in memory_stats.metrics().items():
            self.logger.record(key, value)

    def _final_values(
        self, infos: list[dict[str, Any]], truncated: np.ndarray, state: MemoryState
    ) -> np.ndarray:
        """Return [B] values of the final observations of truncated episodes (0 elsewhere).

        Each is read through the finishing episode's memory: ``state`` is the state after
        the step that ended the episode, before the next episode's start clears it.
        """
        final_values = np.zeros(len(infos), dtype=np.float32)
        env_indices = np.flatnonzero(truncated)
        if env_indices.size == 0:
            return final_values
        final_obs = [infos[i]["terminal_observation"] for i in env_indices]
        if isinstance(self.observation_space, spaces.Dict):
            stacked: Any = {key: np.stack([obs[key] for obs in final_obs]) for key in final_obs[0]}
        else:
            stacked = np.stack(final_obs)
        obs_tensor = obs_as_tensor(stacked, self.device)
        selected = self.policy.memory.select(
            state, torch.as_tensor(env_indices, device=self.device)
        )
        not_started = torch.zeros(env_indices.size, dtype=torch.bool, device=self.device)
        with torch.no_grad():
            values = self.policy.predict_values(obs_tensor, selected, not_started)
        final_values[env_indices] = values.cpu().numpy()
        return final_values

    # --- learn ---------------------------------------------------------------------------

    def train(self) -> None:
        """Update the policy on the collected rollout: minibatch epochs over env chunks."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        clip_range = self.clip_range(self._current_progress_remaining)  # type: ignore[operator]
        history: dict[str, list[float]] = defaultdict(list)

        for epoch in range(self.n_epochs):
            approx_kls: list[float] = []
            for batch in self.rollout_buffer.get(self.batch_envs, self.policy.memory.select):
                loss, metrics = self._minibatch_loss(batch, clip_range)
                approx_kls.append(metrics["train/approx_kl"])
                if self.target_kl is not None and approx_kls[-1] > 1.5 * self.target_kl:
                    logger.info(
                        "Early stop at epoch %d: approximate KL %.4f", epoch, approx_kls[-1]
                    )
                    break
                for key, value in metrics.items():
                    history[key].append(value)

                self.policy.optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                self.policy.optimizer.step()
            self._n_updates += 1
            if self.target_kl is not None and approx_kls and approx_kls[-1] > 1.5 * self.target_kl:
                break

        self._record_train_metrics(history, clip_range)

    def _minibatch_loss(
        self, batch: MemoryRolloutSamples, clip_range: float
    ) -> tuple[Tensor, dict[str, float]]:
        """Compute the PPO loss of one minibatch of env chunks, and its metrics."""
        evaluation = self.policy.forward_sequence(
            batch.observations, batch.actions, batch.episode_starts, batch.memory_state
        )

        # Clipped surrogate objective.
        advantages = batch.advantages
        if self.normalize_advantage and advantages.numel() > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        log_ratio = evaluation.log_prob - batch.old_log_prob
        ratio = torch.exp(log_ratio)
        surrogate = torch.min(
            advantages * ratio, advantages * torch.clamp(ratio, 1 - clip_range, 1 + clip_range)
        )
        policy_loss = -surrogate.mean()

        # Value loss, entropy bonus and the memory's span loss (already scaled by its alpha).
        value_loss = torch.nn.functional.mse_loss(evaluation.values, batch.returns)
        entropy_loss = -evaluation.entropy.mean()
        span_loss = evaluation.diagnostics.span_loss
        loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss + span_loss

        with torch.no_grad():
            metrics = {
                "train/policy_gradient_loss": policy_loss.item(),
                "train/value_loss": value_loss.item(),
                "train/entropy_loss": entropy_loss.item(),
                "train/clip_fraction": ((ratio - 1).abs() > clip_range).float().mean().item(),
                "train/approx_kl": ((ratio - 1) - log_ratio).mean().item(),
                "train/loss": loss.item(),
                "memory/span_loss": float(span_loss),
            }
            metrics.update(self._layer_span_losses(evaluation.diagnostics, float(span_loss)))
        return loss, metrics

    def _layer_span_losses(self, diagnostics: MemoryDiagnostics, total: float) -> dict[str, float]:
        """Return ``memory/span_loss/layer{i}``, or nothing when the layers do not add up.

        The memory reports only the sum over layers, so each layer's term is recomputed
        with the memory package's loss functions and kept only if the terms sum to ``total``.
        """
        config = self.policy.memory_config
        if diagnostics.span is None or config.span_loss_coef == 0:
            return {}
        if config.span_loss == "mean":
            terms = [mean_span_loss(span, config.max_span) for span in diagnostics.span]
        elif diagnostics.mask is not None:
            n_queries = diagnostics.span[0].numel()
            terms = [ramp_span_loss(mask, n_queries) for mask in diagnostics.mask]
        else:
            return {}
        layer_losses = [config.span_loss_coef * float(term) for term in terms]
        if abs(sum(layer_losses) - total) > 1e-5 * max(1.0, abs(total)):
            return {}
        return {f"memory/span_loss/layer{i}": value for i, value in enumerate(layer_losses)}

    def _record_train_metrics(self, history: dict[str, list[float]], clip_range: float) -> None:
        for key, values in history.items():
            self.logger.record(key, float(np.mean(values)))
        explained_var = explained_variance(
            self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten()
        )
        self.logger.record("train/explained_variance", explained_var)
        self.logger.record("train/clip_range", clip_range)
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")

    def learn(
        self: SelfExpireSpanPPO,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "ExpireSpanPPO",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfExpireSpanPPO:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )


def _check_positive_int(name: str, value: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}={value!r} is invalid: use a positive integer.")
