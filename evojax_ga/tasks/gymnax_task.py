"""Gymnax control tasks: the fitness of a policy is its mean episode return.

``gymnax_task(env_name, policy, episodes, max_steps, chunk_size)`` builds a :class:`GymnaxTask` whose
``evaluate(key, population) -> (fitness [P], metrics)`` plays ``episodes`` episodes per individual
of any gymnax environment in one array program:

* the step loop is a ``lax.while_loop`` (``early_exit=True``: it stops as soon as every episode of the
  chunk has ended) or a ``lax.scan`` of exactly ``max_steps`` steps (``early_exit=False``); rewards
  are masked after an episode's first ``terminated | truncated`` (done-masking);
* the step is ``vmap``-ped over episodes inside the per-individual policy call (the episodes of one
  individual share its weight reads: a ``[E, obs] @ [obs, h]`` matmul) and over individuals;
* with ``chunk_size`` the population is evaluated ``chunk_size`` individuals at a time in a
  ``lax.map`` (memory bounded by the chunk, not by ``P``). The default ``"auto"`` uses chunks of
  :data:`AUTO_CHUNK` (256) members: on the 2-core CPU a chunk's weights then stay in cache (8,192
  CartPole MLPs x 500 steps: ~1.6x faster than one vmap over all), and with ``early_exit`` a chunk
  whose episodes have all ended stops early (a random initial population of 10^4: ~2.5x faster).

Actions: discrete spaces take ``argmax`` of the policy output (``num_outputs = n``); continuous
(``Box``) spaces take ``low + (tanh(out) + 1) / 2 * (high - low)`` (``num_outputs = prod(shape)``).

Keys (so results do not depend on ``chunk_size``): episode ``e`` of individual ``i`` (global
index) uses ``k = fold_in(key, i * episodes + e)`` (``fold_in(key, e)`` with
``common_episodes=True``: every individual then meets the same start states);
``k_reset, k_steps = split(k)``; the reset is ``env.reset(k_reset)`` and step ``t`` is the
transition that ``env.step(fold_in(k_steps, t), ...)`` makes, without its auto-reset (finished
episodes keep being simulated but their rewards are masked, which is what the auto-reset would cost
anyway).

Source: gymnax (Lange 2022); the setup of the seed article (PyGAD + PyTorch CartPole, fitness = the
summed reward of an episode, action = argmax of the network output).
"""

from __future__ import annotations

import importlib.util
import math
import sys
import types
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evojax_ga._checks import check_int
from evojax_ga.chunking import by_backend
from evojax_ga.population import validate_population

Population = Any
Policy = Callable[[Any, jax.Array], jax.Array]

__all__ = ["AUTO_CHUNK", "AUTO_CHUNK_ACCELERATOR", "GymnaxTask", "gymnax_task", "make_env", "known_envs", "ENV_ALIASES", "SOLVED_THRESHOLDS",
           "rollout_returns"]

#: members per chunk when ``chunk_size="auto"`` on a CPU (measured on the 2-core CPU, see the module docstring)
AUTO_CHUNK = 256
#: members per chunk when ``chunk_size="auto"`` on a GPU/TPU: one chunk up to a million members
#: (about 2 KB of live state each for CartPole), so the device sees one wide batch
AUTO_CHUNK_ACCELERATOR = 2**20

#: short names accepted besides gymnax's own ids
ENV_ALIASES: dict[str, str] = {
    "cartpole": "CartPole-v1",
    "acrobot": "Acrobot-v1",
    "mountaincar": "MountainCar-v0",
    "pendulum": "Pendulum-v1",
}

#: mean return over 100 fresh episodes that counts as solved (the issue's thresholds)
SOLVED_THRESHOLDS: dict[str, float] = {
    "CartPole-v1": 475.0,
    "Acrobot-v1": -100.0,
    "MountainCar-v0": -110.0,
    "Pendulum-v1": -200.0,
}


class _DeferredModule(types.ModuleType):
    """Stands in ``sys.modules`` for a module until one of its attributes is first used."""

    def __getattr__(self, attr: str) -> Any:
        name = self.__name__
        if sys.modules.get(name) is self:
            del sys.modules[name]
        real = importlib.import_module(name)
        self.__dict__.update({k: v for k, v in real.__dict__.items() if k != "__class__"})
        return getattr(real, attr)


def _defer(name: str) -> None:
    if name in sys.modules:
        return
    parent = name.rpartition(".")[0]
    if parent and parent not in sys.modules:
        importlib.import_module(parent)
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return
    if spec is None:
        return
    module = _DeferredModule(name)
    module.__spec__ = spec
    sys.modules[name] = module


def import_gymnax(defer_plotting: bool = False) -> Any:
    """``import gymnax``; with ``defer_plotting`` the plotting libraries it imports only for rendering
    are replaced by stand-ins that load them on first use.

    gymnax 1.0.1 imports ``seaborn`` (pong) and ``matplotlib.pyplot`` (catch, pong) at import time,
    ~1.7 s of a ~2.2 s import on a 2-core CPU. The command line defers them (its cold start matters);
    library imports leave them alone unless asked.
    """
    if defer_plotting and "gymnax" not in sys.modules:
        for name in ("seaborn", "matplotlib.pyplot"):
            _defer(name)
    import gymnax
    return gymnax


def known_envs() -> list[str]:
    """The environment ids registered with gymnax (plus runtime registrations)."""
    return list(import_gymnax().registration.registered_envs)


def make_env(env_name: str, env_kwargs: dict | None = None) -> tuple[Any, Any, str]:
    """``(env, default_params, canonical_name)`` for a gymnax id or an alias in :data:`ENV_ALIASES`.

    Raises ValueError naming the known environments when ``env_name`` is not one of them.
    """
    if not isinstance(env_name, str):
        raise TypeError(f"env_name must be a string (a gymnax environment id), got {env_name!r}")
    gymnax = import_gymnax()
    known = known_envs()
    name = ENV_ALIASES.get(env_name.lower(), env_name)
    if name not in known:
        lower = {k.lower(): k for k in known}
        name = lower.get(name.lower(), name)
    if name not in known:
        raise ValueError(f"env_name must be a gymnax environment id; got {env_name!r}. Known environments: "
                         f"{', '.join(known)} (aliases: {', '.join(sorted(ENV_ALIASES))})")
    env, params = gymnax.make(name, **(env_kwargs or {}))
    return env, params, name


class _ActionSpec(NamedTuple):
    discrete: bool
    num_outputs: int
    shape: tuple[int, ...]
    low: Any   # numpy array (continuous) or None
    high: Any


def _action_spec(env: Any, env_params: Any, name: str) -> _ActionSpec:
    from gymnax.environments import spaces
    space = env.action_space(env_params)
    if isinstance(space, spaces.Discrete):
        return _ActionSpec(True, int(space.n), (), None, None)
    if isinstance(space, spaces.Box):
        shape = tuple(int(s) for s in space.shape)
        low = np.broadcast_to(np.asarray(space.low, np.float32), shape).copy()
        high = np.broadcast_to(np.asarray(space.high, np.float32), shape).copy()
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ValueError(f"{name}: continuous actions need finite bounds to scale tanh outputs, "
                             f"got low={low}, high={high}")
        return _ActionSpec(False, max(1, math.prod(shape)), shape, low, high)
    raise ValueError(f"{name}: action space {type(space).__name__} is not supported "
                     f"(allowed: gymnax Discrete or Box)")


def scale_actions(out: jax.Array, spec: _ActionSpec) -> jax.Array:
    """Policy outputs ``[..., num_outputs]`` -> actions (argmax, or tanh scaled into [low, high])."""
    if spec.discrete:
        return jnp.argmax(out, axis=-1).astype(jnp.int32)
    low, high = jnp.asarray(spec.low), jnp.asarray(spec.high)
    u = (jnp.tanh(out.astype(jnp.float32)) + 1.0) * 0.5
    u = u.reshape(out.shape[:-1] + spec.shape)
    return jnp.clip(low + u * (high - low), low, high)


class GymnaxTask(NamedTuple):
    """A gymnax environment as a GA task (a NamedTuple of pure functions and its configuration).

    evaluate(key, population) -> (fitness [P] float32 = mean return over ``episodes``,
        metrics {"episode_length": mean length, "env_steps": steps inside episodes,
        "sim_steps": steps simulated, including masked ones}) — use with ``ega.evolve``.
    returns(key, population) -> (returns [P, E] float32, lengths [P, E] int32).
    evaluate_individual(key, params, episodes=100) -> returns [episodes] (jitted; one individual,
        ``params`` without the population axis): the final check on fresh episodes.
    sample_input: ``[obs_dim]`` zeros, for ``model.init(key, task.sample_input)``.
    num_outputs: outputs the policy must produce (actions for argmax, or action dimensions).
    config: env name, episodes, max_steps, chunk_size, early_exit, action kind (JSON-able).
    env, env_params: the gymnax environment and the parameters used.
    """
    evaluate: Callable[[jax.Array, Population], tuple[jax.Array, dict]]
    returns: Callable[[jax.Array, Population], tuple[jax.Array, jax.Array]]
    evaluate_individual: Callable[..., jax.Array]
    sample_input: jax.Array
    num_outputs: int
    config: dict
    env: Any
    env_params: Any


def _obs_affine(env: Any, env_params: Any, obs_dim: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``(scale, shift)`` ``[obs_dim]`` mapping finite observation bounds onto [-1, 1] (identity elsewhere)."""
    try:
        space = env.observation_space(env_params)
        low = np.broadcast_to(np.asarray(space.low, np.float64), space.shape).reshape(-1)
        high = np.broadcast_to(np.asarray(space.high, np.float64), space.shape).reshape(-1)
    except Exception:  # no Box observation space: leave observations alone
        return None
    if low.shape[0] != obs_dim:
        return None
    width = high - low
    ok = np.isfinite(width) & (width > 0) & (width < 1e6)
    scale = np.where(ok, 2.0 / np.where(ok, width, 1.0), 1.0)
    shift = np.where(ok, -1.0 - low * scale, 0.0)
    return scale.astype(np.float32), shift.astype(np.float32)


def _check_policy_output(policy_one: Callable, params: Population, obs_shape: tuple[int, int],
                         spec: _ActionSpec) -> None:
    """Trace-time check (no computation) that the policy maps ``[E, obs_dim]`` to ``[E, num_outputs]``."""
    one = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape[1:], x.dtype), params)
    out = jax.eval_shape(policy_one, one, jax.ShapeDtypeStruct(obs_shape, jnp.float32))
    if out.shape != (obs_shape[0], spec.num_outputs):
        raise ValueError(f"the policy must map one observation to {spec.num_outputs} outputs "
                         f"({'one per action' if spec.discrete else 'one per action dimension'}), "
                         f"got output shape {out.shape[1:]} per observation")


def _member_forward(policy: Policy) -> Callable | None:
    """The population forward of :func:`evojax_ga.models.member_forward` when ``policy`` is the
    ``apply`` of an :class:`~evojax_ga.models.MLP`, else None (the policy is vmapped)."""
    from evojax_ga.models import member_forward
    owner = getattr(policy, "__self__", None)
    if owner is None or getattr(policy, "__func__", None) is not type(owner).apply:
        return None
    return member_forward(owner)


def _make_rollout(env: Any, env_params: Any, policy: Policy, spec: _ActionSpec, max_steps: int,
                  early_exit: bool, obs_dim: int, obs_affine: tuple[Any, Any] | None = None,
                  fast: Callable | None = None) -> Callable:
    """``rollout(key, first [B] int32, params [B, ...], episodes, common) -> (returns [B, E],
    lengths [B, E], simulated steps)``; ``first`` holds the global indices of the ``B`` individuals.
    ``fast``: a population forward (:func:`_member_forward`) used instead of the vmapped ``policy``."""

    def policy_one(params, obs_e):                     # obs_e [E, obs_dim] -> out [E, n_out]
        return jax.vmap(policy, in_axes=(None, 0))(params, obs_e)

    policy_all = fast if fast is not None else jax.vmap(policy_one)   # [B, ...], [B, E, d] -> [B, E, n_out]

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

        def body(t, obs, state, ret, length, alive):
            out = policy_all(params, flat_obs(obs))                     # [B, E, n_out]
            action = scale_actions(out, spec)
            action = action.reshape((B * E,) + action.shape[2:])
            k_t = jax.vmap(lambda k: jax.random.fold_in(k, t))(k_steps)
            obs, state, reward, done = step_flat(k_t, state, action)
            ret = ret + jnp.where(alive, reward, 0.0)
            length = length + alive.astype(jnp.int32)
            return obs, state, ret, length, jnp.logical_and(alive, jnp.logical_not(done))

        ret0 = jnp.zeros((B * E,), jnp.float32)
        len0 = jnp.zeros((B * E,), jnp.int32)
        alive0 = jnp.ones((B * E,), bool)
        if early_exit:
            def cond(c):
                return jnp.logical_and(c[0] < max_steps, jnp.any(c[5]))

            def wbody(c):
                t = c[0]
                return (t + 1,) + body(t, *c[1:])

            t, _, _, ret, length, _ = jax.lax.while_loop(cond, wbody, (jnp.int32(0), obs, state, ret0, len0, alive0))
        else:
            def sbody(c, t):
                return body(t, *c), None

            (_, _, ret, length, _), _ = jax.lax.scan(sbody, (obs, state, ret0, len0, alive0),
                                                     jnp.arange(max_steps, dtype=jnp.int32))
            t = jnp.int32(max_steps)
        sim_steps = t.astype(jnp.float32) * (B * E)
        return ret.reshape(B, E), length.reshape(B, E), sim_steps

    return rollout


def rollout_returns(rollout: Callable, key: jax.Array, population: Population, episodes: int,
                    chunk_size: int | None, common_episodes: bool = False
                    ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Run ``rollout`` over the population, ``chunk_size`` individuals at a time.

    Returns ``(returns [P, E], lengths [P, E], sim_steps scalar)``. Chunks are contiguous slices;
    the last one is shifted back to end at ``P`` (it overlaps the previous one, whose individuals get
    the same keys and so the same results), so no padding copy of the population is made.
    """
    P = validate_population(population)
    if chunk_size is None or chunk_size >= P:
        return rollout(key, jnp.arange(P, dtype=jnp.int32), population, episodes, common_episodes)
    c = int(chunk_size)
    n = -(-P // c)

    def one(j):
        start = jnp.minimum(j * c, P - c)
        sub = jax.tree_util.tree_map(lambda x: jax.lax.dynamic_slice_in_dim(x, start, c, 0), population)
        ret, length, steps = rollout(key, start + jnp.arange(c, dtype=jnp.int32), sub, episodes, common_episodes)
        return ret, length, steps, start

    ret, length, steps, starts = jax.lax.map(one, jnp.arange(n, dtype=jnp.int32))
    # the last chunk may overlap the one before it; count its simulated steps only for the new rows
    rows_new = jnp.minimum(c, P - jnp.arange(n) * c)
    steps = jnp.sum(steps * rows_new / c)
    dest = (starts[:, None] + jnp.arange(c)[None, :]).reshape(-1)
    E = ret.shape[-1]
    out_ret = jnp.zeros((P, E), ret.dtype).at[dest].set(ret.reshape(-1, E))
    out_len = jnp.zeros((P, E), length.dtype).at[dest].set(length.reshape(-1, E))
    return out_ret, out_len, steps


def gymnax_task(env_name: str, policy: Policy, episodes: int = 1, max_steps: int | None = None,
                chunk_size: int | str | None = "auto", early_exit: bool = True, common_episodes: bool = False,
                normalize_obs: bool = False, env_kwargs: dict | None = None, env_params: Any = None,
                fast_policy: bool | str = "auto") -> GymnaxTask:
    """Evaluate populations of policies on the gymnax environment ``env_name``.

    env_name: a gymnax id (``"CartPole-v1"``, ``"Acrobot-v1"``, ``"MountainCar-v0"``,
        ``"Pendulum-v1"``, ...) or an alias (``"cartpole"``); unknown names raise ValueError listing
        the known ones.
    policy: ``policy(params, obs [obs_dim]) -> [num_outputs]`` for one individual (e.g. a Flax
        ``model.apply``; observations are flattened to 1-D float32).
    episodes: episodes per individual (fitness is their mean return); >= 1.
    max_steps: step limit per episode (default: the environment's ``max_steps_in_episode``; when
        given it replaces it, so the limit counts as truncation).
    chunk_size: evaluate at most this many individuals at once (``lax.map`` over chunks); ``None``
        = the whole population in one ``vmap``; ``"auto"`` = :data:`AUTO_CHUNK` on a CPU,
        :data:`AUTO_CHUNK_ACCELERATOR` on a GPU/TPU (the default backend when the task is built).
        Results do not depend on it.
    early_exit: stop the step loop when every episode of a chunk has ended (``while_loop``) instead
        of always running ``max_steps`` steps (``scan``). Same results either way.
    common_episodes: every individual plays the same ``episodes`` start states (common random
        numbers: less noise when ranking, but a generation is judged on fewer distinct episodes).
    normalize_obs: map every observation component with finite bounds in the environment's
        observation space affinely onto [-1, 1] before the policy sees it (MountainCar's velocity
        lives in [-0.07, 0.07]); unbounded components are passed unchanged. The policy then expects
        normalised inputs: evaluate it through a task with the same setting.
    env_kwargs / env_params: passed to ``gymnax.make`` / used instead of the default parameters.
    fast_policy: when ``policy`` is an :class:`~evojax_ga.models.MLP`'s ``apply``, run the population's
        policies with :func:`~evojax_ga.models.member_forward` (unrolled multiply-adds instead of a
        vmapped ``Dense``: ~2.7x faster per step on the CPU; same function up to float rounding).
        ``"auto"``: on a CPU only (on an H200 it was slower: 0.52 s against 0.31 s for 10^6 CartPole
        policies x 500 steps, ``benchmarks/results/gpu_fast_policy_ab.txt``).
    """
    episodes = check_int(episodes, "episodes", minimum=1)
    if fast_policy == "auto":
        fast_policy = by_backend(True, False)
    if not isinstance(fast_policy, bool):
        raise ValueError(f"fast_policy must be True, False or 'auto', got {fast_policy!r}")
    if isinstance(chunk_size, str):
        if chunk_size != "auto":
            raise ValueError(f"chunk_size must be an int >= 1, None or 'auto', got {chunk_size!r}")
        chunk_size = by_backend(AUTO_CHUNK, AUTO_CHUNK_ACCELERATOR)
    elif chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    if not callable(policy):
        raise TypeError(f"policy must be callable (params, obs) -> outputs, e.g. model.apply; "
                        f"got {type(policy).__name__}")
    env, default_params, name = make_env(env_name, env_kwargs)
    params = default_params if env_params is None else env_params
    if max_steps is None:
        max_steps = int(params.max_steps_in_episode)
    else:
        max_steps = check_int(max_steps, "max_steps", minimum=1)
        params = params.replace(max_steps_in_episode=max_steps)
    spec = _action_spec(env, params, name)
    obs_shape = jax.eval_shape(lambda k: env.reset_env(k, params)[0], jax.random.key(0)).shape
    sample_input = jnp.zeros((max(1, math.prod(obs_shape)),), jnp.float32)
    obs_affine = _obs_affine(env, params, sample_input.shape[0]) if normalize_obs else None
    fast = _member_forward(policy) if fast_policy else None
    rollout = _make_rollout(env, params, policy, spec, max_steps, bool(early_exit), int(sample_input.shape[0]),
                            obs_affine, fast)

    def returns(key: jax.Array, population: Population) -> tuple[jax.Array, jax.Array]:
        """``(returns [P, E] float32, lengths [P, E] int32)`` of ``episodes`` episodes per individual."""
        ret, length, _ = rollout_returns(rollout, key, population, episodes, chunk_size, common_episodes)
        return ret, length

    def evaluate(key: jax.Array, population: Population) -> tuple[jax.Array, dict]:
        """``(fitness [P] = mean return, metrics)`` (see :class:`GymnaxTask`)."""
        ret, length, sim = rollout_returns(rollout, key, population, episodes, chunk_size, common_episodes)
        lf = length.astype(jnp.float32)
        return jnp.mean(ret, axis=1), {"episode_length": jnp.mean(lf), "env_steps": jnp.sum(lf),
                                        "sim_steps": sim}

    @jax.jit
    def _individual(key, params_one, ep_index):
        one = jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], params_one)
        ret, _, _ = rollout(key, jnp.zeros((1,), jnp.int32), one, ep_index.shape[0], False)
        return ret[0]

    def evaluate_individual(key: jax.Array, params_one: Any, episodes: int = 100) -> jax.Array:
        """Returns ``[episodes]`` of one individual (no population axis) on fresh episodes of ``key``."""
        episodes = check_int(episodes, "episodes", minimum=1)
        return _individual(key, params_one, jnp.zeros((episodes,), jnp.int8))

    config = {"env": name, "episodes": episodes, "max_steps": max_steps, "chunk_size": chunk_size,
              "normalize_obs": bool(normalize_obs),
              "fast_policy": fast is not None,
              "early_exit": bool(early_exit), "common_episodes": bool(common_episodes),
              "action": "discrete" if spec.discrete else "continuous", "num_outputs": spec.num_outputs,
              "obs_shape": list(obs_shape)}
    if not spec.discrete:
        config["action_low"] = spec.low.tolist()
        config["action_high"] = spec.high.tolist()
    return GymnaxTask(evaluate, returns, evaluate_individual, sample_input, spec.num_outputs, config, env, params)
