"""Gymnax rollouts: exact returns, done-masking, determinism, chunking, action scaling, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_ga as ega
from evojax_ga.models import MLP
from evojax_ga.tasks import environments


def always(action: int, n: int = 2):
    """A policy that ignores its weights and observation and always picks ``action``."""
    def policy(params, obs):
        return jax.nn.one_hot(action, n) + 0.0 * params["w"].sum() + 0.0 * obs.sum()
    return policy


def manual_returns(key, index: int, episodes: int, action: int, env_name: str = "CartPole-v1"):
    """Step the env by hand with env.step, following the documented key scheme; stop at the first done."""
    env, params = ega.tasks.make_env(env_name)[:2]
    step = jax.jit(env.step)
    out = []
    for e in range(episodes):
        k = jax.random.fold_in(key, index * episodes + e)
        k_reset, k_steps = jax.random.split(k)
        obs, state = env.reset(k_reset, params)
        total, length = 0.0, 0
        for t in range(params.max_steps_in_episode):
            obs, state, reward, terminated, truncated, _ = step(jax.random.fold_in(k_steps, t), state, action, params)
            total += float(reward)
            length += 1
            if bool(terminated) or bool(truncated):
                break
        out.append((total, length))
    return out


def random_pop(model, sample_input, size: int, scale: float, seed: int = 0):
    """A population of ``model`` drawn with NumPy (no compilation): weights ~ N(0, scale^2)."""
    shapes = jax.eval_shape(model.init, jax.random.key(0), sample_input)
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_map(
        lambda s: jnp.asarray(scale * rng.standard_normal((size,) + s.shape), jnp.float32), shapes)


@pytest.fixture(scope="module")
def left_task():
    """CartPole, policy always pushing left, 3 episodes per member; jitted returns (scan and while)."""
    task = ega.tasks.gymnax("CartPole-v1", always(0), episodes=3)
    task_scan = ega.tasks.gymnax("CartPole-v1", always(0), episodes=3, early_exit=False)
    pop = {"w": jnp.zeros((4, 1))}
    return task, jax.jit(task.returns), jax.jit(task_scan.returns), pop


@pytest.fixture(scope="module")
def mlp_cartpole():
    """A random population of 7 CartPole MLPs and the task's jitted returns for chunk sizes None, 3, 5."""
    model = MLP(features=(8,), out=2)
    pop = random_pop(model, jnp.zeros((4,)), 7, scale=1.0, seed=3)  # varied behaviour: some long episodes
    fns = {c: jax.jit(ega.tasks.gymnax("CartPole-v1", model, episodes=2, chunk_size=c).returns)
           for c in (None, 3, 5)}
    return model, pop, fns


def test_hand_computed_episode_return(left_task):
    task, returns, _, pop = left_task
    key = jax.random.key(42)
    ret, length = returns(key, pop)
    assert ret.shape == (4, 3) and length.shape == (4, 3)
    for i in (0, 3):
        expected = manual_returns(key, i, 3, action=0)
        np.testing.assert_allclose(np.asarray(ret[i]), [r for r, _ in expected])
        np.testing.assert_array_equal(np.asarray(length[i]), [n for _, n in expected])
    # always pushing left topples the pole within a few dozen steps: CartPole pays 1 per step
    assert np.all(np.asarray(ret) == np.asarray(length)) and np.all(np.asarray(length) < 60)


def test_done_masking_stops_reward_after_termination(left_task):
    task, returns, returns_scan, pop = left_task
    key = jax.random.key(7)
    ret, length = returns(key, pop)
    ret_s, length_s = returns_scan(key, pop)  # the scan always simulates all 500 steps
    np.testing.assert_array_equal(np.asarray(ret), np.asarray(ret_s))
    np.testing.assert_array_equal(np.asarray(length), np.asarray(length_s))
    # gymnax auto-resets inside env.step: without masking the sum over 500 steps would be far larger
    env, params = task.env, task.env_params
    k = jax.random.fold_in(key, 0)
    k_reset, k_steps = jax.random.split(k)
    _, state = env.reset(k_reset, params)

    def body(state, t):
        _, state, r, _, _, _ = env.step(jax.random.fold_in(k_steps, t), state, 0, params)
        return state, r

    _, rewards = jax.lax.scan(body, state, jnp.arange(500))
    unmasked = float(rewards.sum())
    assert unmasked > 5 * float(ret[0, 0])
    assert float(ret[0, 0]) == float(rewards[: int(length[0, 0])].sum())


def test_same_key_same_returns_and_new_key_new_episodes(mlp_cartpole):
    _, pop, fns = mlp_cartpole
    a = fns[None](jax.random.key(1), pop)
    b = fns[None](jax.random.key(1), pop)
    c = fns[None](jax.random.key(2), pop)
    np.testing.assert_array_equal(np.asarray(a[0]), np.asarray(b[0]))
    assert not np.array_equal(np.asarray(a[1]), np.asarray(c[1]))


def test_chunk_size_does_not_change_returns(mlp_cartpole):
    _, pop, fns = mlp_cartpole
    key = jax.random.key(5)
    ref_r, ref_l = fns[None](key, pop)
    assert len(set(np.asarray(ref_l).ravel().tolist())) > 1  # the population behaves differently
    for c in (3, 5):
        r, l = fns[c](key, pop)
        np.testing.assert_array_equal(np.asarray(l), np.asarray(ref_l))
        np.testing.assert_allclose(np.asarray(r), np.asarray(ref_r))


def test_sim_steps_count_each_individual_once_for_any_chunk_size(mlp_cartpole):
    """Without early exit every episode simulates max_steps steps: sim_steps = P * E * max_steps,
    whichever chunks (the last one overlapping the one before it) the population is cut into."""
    model, pop, _ = mlp_cartpole
    for c in (None, 3, 5, 7):
        task = ega.tasks.gymnax("CartPole-v1", model, episodes=2, max_steps=30, chunk_size=c, early_exit=False)
        _, metrics = jax.jit(task.evaluate)(jax.random.key(3), pop)
        assert float(metrics["sim_steps"]) == 7 * 2 * 30


def test_evaluate_fitness_is_mean_return_with_metrics(mlp_cartpole):
    model, pop, fns = mlp_cartpole
    task = ega.tasks.gymnax("CartPole-v1", model.apply, episodes=2)
    key = jax.random.key(9)
    fitness, metrics = jax.jit(task.evaluate)(key, pop)
    ret, length = fns[None](key, pop)
    np.testing.assert_allclose(np.asarray(fitness), np.asarray(ret).mean(axis=1))
    assert float(metrics["env_steps"]) == float(np.asarray(length).sum())
    assert float(metrics["sim_steps"]) >= float(metrics["env_steps"])


@pytest.mark.parametrize("env,obs_dim,outputs,cuts", [("CartPole-v1", 4, 2, True), ("Pendulum-v1", 3, 1, False)])
def test_early_exit_on_and_off_give_identical_fitness(env, obs_dim, outputs, cuts):
    """A random MLP population in chunks of 3: early exit (while_loop) and the full scan give bitwise
    the same fitness and episode steps. CartPole: some chunk stops early (fewer simulated steps);
    Pendulum: episodes only end at the step limit, so early exit never simulates fewer steps."""
    model = MLP(features=(8,), out=outputs)
    pop = random_pop(model, jnp.zeros((obs_dim,)), 7, scale=1.0, seed=5)
    out = {}
    for ee in (True, False):
        task = ega.tasks.gymnax(env, model, episodes=2, max_steps=60, chunk_size=3, early_exit=ee)
        fit, m = jax.jit(task.evaluate)(jax.random.key(8), pop)
        out[ee] = np.asarray(fit), float(m["env_steps"]), float(m["sim_steps"])
    np.testing.assert_array_equal(out[True][0], out[False][0])
    assert out[True][1] == out[False][1] and out[False][2] == 7 * 2 * 60
    assert np.unique(out[True][0]).size > 1                              # the members behave differently
    assert (out[True][2] < out[False][2]) == cuts


def test_early_exit_is_on_only_for_the_job_where_it_pays():
    """Early exit stopped chunks early on CartPole's populations only; on Acrobot, MountainCar and
    Pendulum (whose episodes end only at the step limit) some episode of every chunk ran to the limit
    (benchmarks/README.md, "Early exit measured"), so those jobs run the plain scan."""
    from evojax_ga.runs.control import config_for
    assert config_for("cartpole").early_exit is True
    for job in ("acrobot", "mountaincar", "pendulum"):
        assert config_for(job).early_exit is False, job
    assert config_for("pendulum", early_exit=True).early_exit is True       # still available on request

def test_evaluate_individual_runs_fresh_episodes(left_task):
    task, _, _, _ = left_task
    r = task.evaluate_individual(jax.random.key(11), {"w": jnp.zeros((1,))}, episodes=5)
    assert r.shape == (5,)
    expected = manual_returns(jax.random.key(11), 0, 5, action=0)
    np.testing.assert_allclose(np.asarray(r), [x for x, _ in expected])


def test_continuous_actions_are_tanh_scaled_into_bounds():
    env, params, name = ega.tasks.make_env("Pendulum-v1")
    spec = environments.action_spec(env, params, name)
    assert not spec.discrete and spec.num_outputs == 1
    out = jnp.array([[-1e9], [-1.0], [0.0], [1.0], [1e9], [jnp.inf]])
    a = environments.scale_actions(out, spec)
    assert a.shape == (6, 1)
    a = np.asarray(a)
    assert np.all(a >= -2.0) and np.all(a <= 2.0)
    np.testing.assert_allclose(a[[0, 2, 4, 5], 0], [-2.0, 0.0, 2.0, 2.0], atol=1e-6)
    np.testing.assert_allclose(a[3, 0], 2.0 * np.tanh(1.0), rtol=1e-6)
    # a pendulum rollout with saturated outputs stays finite (torque clipped to +-2)
    model = MLP(features=(4,), out=1)
    task = ega.tasks.gymnax("pendulum", model.apply, episodes=2, max_steps=20)
    assert task.num_outputs == 1 and task.config["action"] == "continuous"
    pop = random_pop(model, task.sample_input, 3, scale=100.0)
    fitness, _ = jax.jit(task.evaluate)(jax.random.key(1), pop)
    assert np.all(np.isfinite(np.asarray(fitness))) and np.all(np.asarray(fitness) < 0)


@pytest.mark.parametrize("name,obs,n", [("CartPole-v1", 4, 2), ("Acrobot-v1", 6, 3), ("MountainCar-v0", 2, 3),
                                        ("Pendulum-v1", 3, 1), ("mountaincar", 2, 3)])
def test_env_shapes(name, obs, n):
    task = ega.tasks.gymnax(name, lambda p, o: o, episodes=1)
    assert task.sample_input.shape == (obs,) and task.num_outputs == n
    assert task.config["env"] in ega.tasks.known_envs()


def test_unknown_env_lists_known_names():
    with pytest.raises(ValueError) as err:
        ega.tasks.gymnax("CartPole-v9", lambda p, o: o)
    msg = str(err.value)
    assert "CartPole-v9" in msg
    for known in ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1"):
        assert known in msg


def test_bad_arguments():
    with pytest.raises(ValueError, match="episodes"):
        ega.tasks.gymnax("CartPole-v1", lambda p, o: o, episodes=0)
    with pytest.raises(ValueError, match="chunk_size"):
        ega.tasks.gymnax("CartPole-v1", lambda p, o: o, chunk_size=0)
    with pytest.raises(ValueError, match="max_steps"):
        ega.tasks.gymnax("CartPole-v1", lambda p, o: o, max_steps=0)
    with pytest.raises(TypeError, match="policy"):
        ega.tasks.gymnax("CartPole-v1", None)


def test_policy_output_size_is_checked():
    model = MLP(features=(4,), out=3)  # CartPole has 2 actions
    task = ega.tasks.gymnax("CartPole-v1", model.apply, max_steps=5)
    pop = random_pop(model, task.sample_input, 2, scale=1.0)
    with pytest.raises(ValueError, match="2 outputs"):
        task.evaluate(jax.random.key(0), pop)


@pytest.mark.parametrize("features,activation,flatten,shape", [
    ((16, 16), "relu", False, (4,)),          # CartPole's policy: every layer unrolled
    ((3,), "tanh", True, (2, 5, 8)),          # images flattened to 80 inputs: the first layer as einsum
])
def test_member_forward_equals_vmapped_apply(features, activation, flatten, shape):
    from evojax_ga.models import member_forward
    model = MLP(features=features, out=3, activation=activation, flatten=flatten)
    pop = ega.init_population(jax.random.key(0), model.init, jnp.zeros(shape), pop_size=5)
    x = jax.random.normal(jax.random.key(1), (5, 7) + shape)          # [P, E, ...]: own inputs per member
    want = jax.vmap(lambda p, xe: jax.vmap(lambda o: model.apply(p, o))(xe))(pop, x)
    got = member_forward(model)(pop, x)
    assert got.shape == (5, 7, 3)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)
    assert member_forward(lambda p, o: o) is None                   # not an MLP: no fast path


def test_fast_policy_gives_the_returns_of_the_vmapped_policy(mlp_cartpole):
    model, pop = mlp_cartpole[0], mlp_cartpole[1]
    fast = ega.tasks.gymnax("CartPole-v1", model, episodes=2, fast_policy=True)
    slow = ega.tasks.gymnax("CartPole-v1", model, episodes=2, fast_policy=False)
    plain = ega.tasks.gymnax("CartPole-v1", model.apply, episodes=2, fast_policy=True)   # a bare function
    assert fast.config["fast_policy"] and not slow.config["fast_policy"] and not plain.config["fast_policy"]
    a = np.asarray(jax.jit(fast.returns)(jax.random.key(4), pop)[0])
    b = np.asarray(jax.jit(slow.returns)(jax.random.key(4), pop)[0])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.asarray(jax.jit(plain.returns)(jax.random.key(4), pop)[0]), b)
    assert a.std() > 0                                              # the population's policies differ
    with pytest.raises(ValueError, match="fast_policy"):
        ega.tasks.gymnax("CartPole-v1", model, fast_policy="yes")


def test_explicit_policy_forward_is_used(mlp_cartpole):
    """policy_forward replaces the vmapped policy: a forward that always picks action 0 gives the
    always-left returns whatever the weights."""
    model, pop = mlp_cartpole[0], mlp_cartpole[1]

    def left(population, obs):                     # [B, E, d] -> [B, E, 2]
        return jnp.broadcast_to(jnp.array([1.0, 0.0]), obs.shape[:2] + (2,))

    task = ega.tasks.gymnax("CartPole-v1", model, episodes=3, policy_forward=left, fast_policy=True)
    _, length = jax.jit(task.returns)(jax.random.key(42), pop)
    expected = manual_returns(jax.random.key(42), 2, 3, action=0)
    np.testing.assert_array_equal(np.asarray(length[2]), [n for _, n in expected])
    with pytest.raises(TypeError, match="policy_forward"):
        ega.tasks.gymnax("CartPole-v1", model.apply, policy_forward=3)


def test_environment_that_needs_a_download_is_a_one_line_error(monkeypatch):
    """gymnax's MNISTBandit downloads MNIST when made: without a network, a raw URLError came out."""
    import urllib.error

    import gymnax

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(gymnax, "make", offline)
    with pytest.raises(ValueError, match=r"env_name='MNISTBandit-bsuite': making MNISTBandit-bsuite needs a download"):
        environments.make_env("MNISTBandit-bsuite")
