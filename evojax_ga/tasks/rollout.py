"""Done-masked gymnax rollouts: ``B`` policies, ``E`` episodes each, in one array program.

* the step loop is a ``lax.while_loop`` (``early_exit=True``: it stops as soon as every episode of
  the batch has ended) or a ``lax.scan`` of exactly ``max_steps`` steps (``early_exit=False``);
  rewards are masked after an episode's first ``terminated | truncated`` (done-masking);
* the step is ``vmap``-ped over the ``B * E`` episodes; the policy is applied to ``[B, E, obs]``
  at once, either as the ``vmap`` of the per-observation ``policy`` or through a population forward
  (``policy_forward``, e.g. :func:`evojax_ga.models.member_forward`: the episodes of one individual
  share its weight reads);
* :func:`rollout_returns` runs a population ``chunk_size`` individuals at a time
  (:func:`evojax_ga.chunking.map_chunks`, ``last="overlap"``): memory bounded by the chunk, and with
  ``early_exit`` a chunk whose episodes have all ended stops early.

Keys (so results do not depend on ``chunk_size``): episode ``e`` of individual ``i`` (global
index) uses ``k = fold_in(key, i * episodes + e)`` (``fold_in(key, e)`` with ``common=True``:
every individual then meets the same start states); ``k_reset, k_steps = split(k)``; the reset is
``env.reset(k_reset)`` and step ``t`` is the transition that ``env.step(fold_in(k_steps, t), ...)``
makes, without its auto-reset (finished episodes keep being simulated but their rewards are masked,
which is what the auto-reset would cost anyway).

``make_rollout(..., track_obs=True)`` (for behaviour descriptors, :mod:`evojax_ga.tasks.gymnax_qd`)
also returns ``(final_obs [B, E, obs_dim], max_abs_obs [B, E, obs_dim])``: the raw (flattened,
unnormalised) observation at each episode's end, and the largest ``|component|`` over the episode's
observations (reset included). The default (``False``) program is unchanged.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from evojax_ga.chunking import map_chunks, plan
from evojax_ga.population import validate_population
from evojax_ga.tasks.environments import ActionSpec, scale_actions
from evojax_ga.types import Population, PRNGKey

__all__ = ["Policy", "PolicyForward", "Rollout", "make_rollout", "rollout_returns"]

#: ``policy(params, obs [obs_dim]) -> [num_outputs]`` for one individual and one observation
Policy = Callable[[Any, jax.Array], jax.Array]
#: ``forward(population [B, ...], obs [B, E, obs_dim]) -> [B, E, num_outputs]``: member ``b`` on its own inputs
PolicyForward = Callable[[Any, jax.Array], jax.Array]
#: ``rollout(key, index [B] int32, params [B, ...], episodes, common) -> (returns [B, E], lengths [B, E], sim_steps)``
Rollout = Callable[[PRNGKey, jax.Array, Any, int, bool], tuple[jax.Array, jax.Array, jax.Array]]


def _check_policy_output(policy_one: Callable, params: Population, obs_shape: tuple[int, int],
                         spec: ActionSpec) -> None:
    """Trace-time check (no computation) that the policy maps ``[E, obs_dim]`` to ``[E, num_outputs]``."""
    one = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape[1:], x.dtype), params)
    out = jax.eval_shape(policy_one, one, jax.ShapeDtypeStruct(obs_shape, jnp.float32))
    if out.shape != (obs_shape[0], spec.num_outputs):
        raise ValueError(f"the policy must map one observation to {spec.num_outputs} outputs "
                         f"({'one per action' if spec.discrete else 'one per action dimension'}), "
                         f"got output shape {out.shape[1:]} per observation")


def make_rollout(env: Any, env_params: Any, policy: Policy, spec: ActionSpec, max_steps: int,
                 early_exit: bool, obs_dim: int, obs_affine: tuple[Any, Any] | None = None,
                 policy_forward: PolicyForward | None = None, track_obs: bool = False) -> Rollout:
    """``rollout(key, index [B] int32, params [B, ...], episodes, common) -> (returns [B, E],
    lengths [B, E], simulated steps)``; ``index`` holds the global indices of the ``B`` individuals.

    obs_affine: ``(scale, shift)`` applied to every flattened observation (normalisation) or None.
    policy_forward: a population forward used instead of the vmapped ``policy`` (same function).
    track_obs: also return ``(final_obs, max_abs_obs)``, each ``[B, E, obs_dim]`` (module docstring).
    """

    def policy_one(params, obs_e):                     # obs_e [E, obs_dim] -> out [E, n_out]
        return jax.vmap(policy, in_axes=(None, 0))(params, obs_e)

    policy_all = policy_forward if policy_forward is not None else jax.vmap(policy_one)

    def env_step(k, state, action):                    # one episode, one step (env.step without reset)
        k_step, _ = jax.random.split(k)
        obs, state, reward, terminated, _ = env.step_env(k_step, state, action, env_params)
        truncated = env.is_truncated(state, env_params)
        return obs, state, jnp.asarray(reward, jnp.float32).reshape(()), \
            jnp.logical_or(terminated, truncated).reshape(())

    step_flat = jax.vmap(env_step)                      # over the B * E episodes

    def rollout(key, index, params, episodes, common):
        B, E = index.shape[0], episodes
        _check_policy_output(policy_one, params, (E, obs_dim), spec)
        ep = jnp.arange(E, dtype=jnp.int32)
        g = jnp.broadcast_to(ep, (B, E)) if common else index[:, None] * E + ep[None, :]   # [B, E]
        k_ep = jax.vmap(lambda i: jax.random.fold_in(key, i))(g.reshape(-1))              # [B * E]
        k_split = jax.vmap(jax.random.split)(k_ep)
        k_reset, k_steps = k_split[:, 0], k_split[:, 1]
        obs, state = jax.vmap(lambda k: env.reset_env(k, env_params))(k_reset)

        def flat_obs(o):
            o = o.reshape(B, E, -1).astype(jnp.float32)
            if obs_affine is not None:
                o = o * jnp.asarray(obs_affine[0]) + jnp.asarray(obs_affine[1])
            return o

        def raw(o):                                     # [B * E, obs_dim] float32, unnormalised
            return o.reshape(B * E, -1).astype(jnp.float32)

        def body(t, obs, state, ret, length, alive, *seen):
            out = policy_all(params, flat_obs(obs))                     # [B, E, n_out]
            action = scale_actions(out, spec)
            action = action.reshape((B * E,) + action.shape[2:])
            k_t = jax.vmap(lambda k: jax.random.fold_in(k, t))(k_steps)
            obs, state, reward, done = step_flat(k_t, state, action)
            ret = ret + jnp.where(alive, reward, 0.0)
            length = length + alive.astype(jnp.int32)
            if seen:                                    # track_obs: freeze at the episode's end
                o, a = raw(obs), alive[:, None]
                seen = (jnp.where(a, o, seen[0]), jnp.where(a, jnp.maximum(seen[1], jnp.abs(o)), seen[1]))
            return (obs, state, ret, length, jnp.logical_and(alive, jnp.logical_not(done))) + tuple(seen)

        ret0 = jnp.zeros((B * E,), jnp.float32)
        len0 = jnp.zeros((B * E,), jnp.int32)
        alive0 = jnp.ones((B * E,), bool)
        seen0 = (raw(obs), jnp.abs(raw(obs))) if track_obs else ()
        if early_exit:
            def cond(c):
                return jnp.logical_and(c[0] < max_steps, jnp.any(c[5]))

            def wbody(c):
                t = c[0]
                return (t + 1,) + body(t, *c[1:])

            t, _, _, ret, length, _, *seen = jax.lax.while_loop(
                cond, wbody, (jnp.int32(0), obs, state, ret0, len0, alive0) + seen0)
        else:
            def sbody(c, t):
                return body(t, *c), None

            (_, _, ret, length, _, *seen), _ = jax.lax.scan(sbody, (obs, state, ret0, len0, alive0) + seen0,
                                                            jnp.arange(max_steps, dtype=jnp.int32))
            t = jnp.int32(max_steps)
        sim_steps = t.astype(jnp.float32) * (B * E)
        if track_obs:
            final, max_abs = (x.reshape(B, E, -1) for x in seen)
            return ret.reshape(B, E), length.reshape(B, E), sim_steps, (final, max_abs)
        return ret.reshape(B, E), length.reshape(B, E), sim_steps

    return rollout


def rollout_returns(rollout: Rollout, key: PRNGKey, population: Population, episodes: int,
                    chunk_size: int | None, common_episodes: bool = False
                    ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Run ``rollout`` over the population, ``chunk_size`` individuals at a time.

    Returns ``(returns [P, E], lengths [P, E], sim_steps scalar)``. Chunks are contiguous slices;
    the last one is shifted back to end at ``P`` (``map_chunks``'s ``"overlap"`` mode: its repeated
    individuals get the same keys and so the same results, and no padding copy is made); its
    simulated steps count only for its new rows.
    """
    P = validate_population(population)

    def chunk(sub: Population, rows: jax.Array) -> tuple[tuple[jax.Array, jax.Array], jax.Array]:
        ret, length, steps = rollout(key, rows, sub, episodes, common_episodes)
        return (ret, length), steps

    p = plan(P, chunk_size, "overlap")
    (ret, length), steps = map_chunks(chunk, population, chunk_size, last="overlap", per_chunk=True)
    if p.single:
        return ret, length, steps[0]
    return ret, length, jnp.sum(steps * jnp.asarray(p.new_rows, jnp.int32) / p.size)
