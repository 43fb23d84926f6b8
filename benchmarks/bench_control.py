"""Control: time to threshold on four gymnax tasks, and CartPole rollout throughput 10^3..10^6.

Time to threshold (the issue's definition): a run is solved when the best member's mean return over
100 fresh episodes reaches CartPole-v1 >= 475, Acrobot-v1 >= -100, MountainCar-v0 >= -110,
Pendulum-v1 >= -200 (checked between blocks of generations, see ``evojax_ga.runs.control``).
Per seed, three figures:

* ``cold_cli_s``: wall-clock of ``python -m evojax_ga run JOB --seed S --no-compile-cache`` in a fresh
  process, measured by the parent: interpreter start, imports, compilation, the solve, the final
  100-episode evaluation and the run folder (what a user waits for on a fresh machine);
* ``solve_with_compile_s``: the same process's own time from the start of training to the solved check
  (compilation included, imports and run folder excluded), from its ``summary.json``;
* ``solve_warm_s``: in this process, with everything compiled by an earlier seed (no compilation).

Medians over seeds (5 in full mode, 3 in quick mode). ``cached_cli_s`` (CartPole only): the same CLI
command run twice with a fresh ``--compile-cache`` folder; the second run's wall-clock.

Throughput: one evaluation of P CartPole-v1 MLP 4-16-16-2 policies (386 weights, the seed article's
network) x 1 episode x 500 steps (``early_exit=False``: every member simulates all 500 steps, so the
work is exactly P x 500 env steps), each size in its own subprocess (its ``VmHWM`` is the peak
memory; not ``ru_maxrss``, which on Linux includes the parent's RSS inherited through fork + exec),
the population evaluated in chunks of ``chunk`` members (``lax.map``; "auto" = 256). Early exit (stop a
chunk's step loop when all its episodes ended) is measured apart on a random initial population.

Peers, when installed: evosax (SimpleGA with its own GymnaxProblem rollout) and the seed article's
pipeline (PyGAD + gymnasium CartPole + a NumPy MLP in place of PyTorch, population 10).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import harness

REPO = Path(__file__).resolve().parent.parent
JOBS = ("cartpole", "acrobot", "mountaincar", "pendulum")
PEER_CAP_S = 60.0

THROUGHPUT_CHILD = r"""
import json, math, resource, sys, time
cfg = json.loads(sys.argv[1])
import jax, jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from evojax_ga.tasks.gymnax_task import gymnax_task
from evojax_ga.models import MLP
P = cfg["P"]
model = MLP(features=(16, 16), out=2)
task = gymnax_task("CartPole-v1", model, episodes=1, chunk_size=cfg["chunk"], early_exit=cfg["early_exit"],
                   fast_policy=cfg.get("fast_policy", "auto"))
shapes = jax.eval_shape(model.init, jax.random.key(0), task.sample_input)
_, unravel = ravel_pytree(jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes))
n = sum(math.prod(s.shape) for s in jax.tree_util.tree_leaves(shapes))
@jax.jit
def make_pop(key):
    return jax.vmap(unravel)(cfg["init_scale"] * jax.random.normal(key, (P, n), jnp.float32) / 4.0)
pop = jax.block_until_ready(make_pop(jax.random.key(0)))
ev = jax.jit(task.evaluate)
t0 = time.perf_counter()
out = jax.block_until_ready(ev(jax.random.key(1), pop))
first = time.perf_counter() - t0
times = []
for r in range(cfg["repeats"]):
    t0 = time.perf_counter()
    out = jax.block_until_ready(ev(jax.random.key(2 + r), pop))
    times.append(time.perf_counter() - t0)
f, m = out
def peak_mib():
    # VmHWM: this process's own peak RSS. ru_maxrss is not: Linux carries the forking parent's RSS
    # over into the child's ru_maxrss across fork + exec.
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
try:
    dev_peak = (jax.devices()[0].memory_stats() or {}).get("peak_bytes_in_use")
except Exception:
    dev_peak = None
print("RESULT " + json.dumps({"first_s": first, "times_s": times, "sim_steps": float(m["sim_steps"]),
      "env_steps": float(m["env_steps"]), "maxrss_mib": peak_mib(),
      "device_peak_mib": None if dev_peak is None else dev_peak / 2**20}))
"""


SECTIONS = ("threshold", "peers", "throughput", "sweep", "evosax_throughput")


def _sections() -> set[str]:
    """Sections to run: $BENCH_CONTROL (comma-separated names of SECTIONS), default all."""
    chosen = {x for x in os.environ.get("BENCH_CONTROL", ",".join(SECTIONS)).split(",") if x}
    unknown = chosen - set(SECTIONS)
    if unknown:
        raise ValueError(f"BENCH_CONTROL: unknown sections {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    return chosen


def _accelerator() -> bool:
    from evojax_ga.chunking import on_accelerator
    return on_accelerator()


def _median(xs: list[float]) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# --------------------------------------------------------------------------------------------
# time to threshold
# --------------------------------------------------------------------------------------------
def _cli_run(job: str, seed: int, out: Path, cache: str | None) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "evojax_ga", "run", job, "--seed", str(seed), "--no-progress", "--out", str(out)]
    cmd += ["--no-compile-cache"] if cache is None else ["--compile-cache", cache]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")
    summary = json.loads((out / "summary.json").read_text())
    summary["cli_wall_s"] = wall
    return summary


def time_to_threshold(quick: bool) -> tuple[list[dict], list[str]]:
    """Rows: one per job (cold CLI, solve with compile, warm solve; medians over seeds)."""
    import jax

    from evojax_ga.runs import control

    seeds = list(range(3 if quick else 5))
    rows, notes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for job in JOBS:
            cfg = control.config_for(job)
            cold = [_cli_run(job, s, Path(tmp) / f"{job}-{s}", None) for s in seeds]
            run = control.make_run(cfg)
            run(jax.random.key(10_000))  # compile
            warm = []
            for s in seeds:
                _, _, info = run(jax.random.key(s))
                warm.append(info)
            row = {
                "section": "time to threshold",
                "env": cfg.env, "threshold": cfg.target, "preset": cfg.preset, "pop": cfg.pop_size,
                "episodes": cfg.episodes,
                "solved_cli": f"{sum(c['solved'] for c in cold)}/{len(seeds)}",
                "median_generations": _median([c["solved_generation"] for c in cold if c["solved"]]),
                "cold_cli_s": _median([c["cli_wall_s"] for c in cold]),
                "cold_solve_s": _median([c.get("solve_process_age_s") for c in cold if c["solved"]]),
                "solve_with_compile_s": _median([c["solve_wall_s"] for c in cold if c["solved"]]),
                "solved_warm": f"{sum(w['solved'] for w in warm)}/{len(seeds)}",
                "solve_warm_s": _median([w["solve_wall_s"] for w in warm if w["solved"]]),
                "final_mean_100": _median([c["final_mean"] for c in cold]),
            }
            if job == "cartpole":
                cache = str(Path(tmp) / "xla-cache")
                _cli_run(job, 0, Path(tmp) / "cached-a", cache)
                row["cached_cli_s"] = _cli_run(job, 0, Path(tmp) / "cached-b", cache)["cli_wall_s"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    notes.append("time to threshold: cold_cli_s = fresh `python -m evojax_ga run JOB --seed S --no-compile-cache` "
                 "(interpreter + imports + compile + solve + final 100-episode evaluation + run folder); "
                 "cold_solve_s = the same process's age when its solved check passed (interpreter + imports + "
                 "compile + solve: the issue's cold start); "
                 "solve_with_compile_s from that run's summary.json; solve_warm_s in one process after a compiling "
                 "run; medians over seeds 0..%d; median_generations over solved CLI runs" % (len(seeds) - 1))
    notes.append("the CLI compiles with XLA's CPU optimisation level 0 when pop_size x episodes <= 2048 "
                 "(--fast-compile auto: CartPole, Acrobot, MountainCar); "
                 "the in-process warm runs use the default level")
    return rows, notes


# --------------------------------------------------------------------------------------------
# throughput
# --------------------------------------------------------------------------------------------
def _throughput_child(P: int, chunk: int | None, early_exit: bool, repeats: int, init_scale: float = 2.0,
                      fast_policy: bool | str = "auto") -> dict[str, Any]:
    cfg = {"P": P, "chunk": chunk, "early_exit": early_exit, "repeats": repeats, "init_scale": init_scale,
           "fast_policy": fast_policy}
    proc = subprocess.run([sys.executable, "-c", THROUGHPUT_CHILD, json.dumps(cfg)], cwd=REPO,
                          capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"throughput child {cfg} failed: {proc.stderr[-2000:]}")
    line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def throughput(quick: bool, repeats: int) -> tuple[list[dict], list[str]]:
    rows, notes = [], []
    sizes = [10**3, 10**4, 10**5] if quick else [10**3, 10**4, 10**5, 10**6]
    for P in sizes if "throughput" in _sections() else []:
        chunk = "auto"
        reps = max(1, repeats if P <= 10**5 or _accelerator() else 1)
        for ee in (False, True):   # every member 500 steps; then the same population with early exit
            r = _throughput_child(P, chunk, ee, reps)
            med = statistics.median(r["times_s"])
            row = {"section": "throughput", "P": P, "chunk": chunk, "early_exit": ee, "steps": 500,
                   "first_call_s": r["first_s"], "median_s": med, "members_per_s": P / med,
                   "env_steps_per_s": P * 500 / med if not ee else None,
                   "mean_episode_len": r["env_steps"] / P, "peak_rss_mib": r["maxrss_mib"]}
            if r.get("device_peak_mib") is not None:
                row["device_peak_mib"] = r["device_peak_mib"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    if "sweep" not in _sections():
        return rows, notes
    # chunk size sweep and early exit on a random initial population (most episodes end early)
    P = 10**4 if quick else 10**5
    chunks = [256, 1024, None] if quick else [256, 1024, 8192, None]
    if _accelerator():   # cache-sized chunks only cost launches on a GPU: sweep large ones at 10^6
        P, chunks = 10**6, [None]
    for chunk in chunks:
        for ee in (False, True) if _accelerator() else (False,):
            r = _throughput_child(P, chunk, ee, max(1, repeats // 2))
            med = statistics.median(r["times_s"])
            row = {"section": "chunk / early exit", "P": P, "chunk": chunk, "early_exit": ee, "steps": 500,
                   "first_call_s": r["first_s"], "median_s": med,
                   "sim_steps_per_s": r["sim_steps"] / med, "useful_env_steps": r["env_steps"],
                   "peak_rss_mib": r["maxrss_mib"]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    notes.append("throughput: env_steps_per_s = P x 500 / median time of one evaluation (first call, with compile, "
                 "excluded); every member simulates 500 steps (early_exit=False), steps after an episode ended "
                 "are simulated and masked; peak_rss_mib = the subprocess's own peak resident memory (VmHWM: "
                 "Python, JAX and the population included)")
    notes.append("throughput, early_exit True: the same random population (most episodes end within tens of "
                 "steps) evaluated with early exit: a chunk stops when all its episodes have ended; the fitness "
                 "values are identical, members_per_s is what a GA generation sees; x_evosax = evosax's median "
                 "time for the same P / this row's (evosax always simulates 500 steps)")
    notes.append("chunk / early exit: a random initial population (weights N(0, 0.5^2)); sim_steps_per_s counts "
                 "every simulated step, useful_env_steps the steps inside episodes; with early exit a chunk "
                 "stops when all its episodes have ended")
    return rows, notes


# --------------------------------------------------------------------------------------------
# peers
# --------------------------------------------------------------------------------------------
def evosax_peer(job: str, seeds: list[int], cap_s: float = PEER_CAP_S) -> tuple[list[dict], list[str]]:
    """evosax SimpleGA + GymnaxProblem (their rollout, their GA) on a control job's environment, with
    the job's population size, mutation step and episodes per member, and the same solved check
    (best member's mean return over 100 fresh episodes >= the threshold)."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    from evosax.algorithms import SimpleGA
    from evosax.problems import GymnaxProblem
    from evosax.problems.networks import MLP as EMLP

    from evojax_ga.runs import control
    from evojax_ga.tasks.gymnax_task import make_env

    cfg = control.config_for(job)
    env, env_params, _ = make_env(cfg.env)
    obs_dim = int(np.prod(env.observation_space(env_params).shape))
    space = env.action_space(env_params)
    discrete = hasattr(space, "n")
    if discrete:
        n_out = int(space.n)

        def out_fn(x, key=None):
            return jnp.argmax(x, axis=-1)
    else:
        n_out = int(np.prod(space.shape))
        low, high = jnp.asarray(space.low, jnp.float32), jnp.asarray(space.high, jnp.float32)

        def out_fn(x, key=None):
            return low + (jnp.tanh(x) + 1.0) * 0.5 * (high - low)

    pop, std, target = cfg.pop_size, cfg.sigma, cfg.target
    policy = EMLP(layer_sizes=(*cfg.hidden, n_out), activation=jax.nn.relu, output_fn=out_fn)
    problem = GymnaxProblem(cfg.env, policy, num_rollouts=cfg.episodes, use_normalize_obs=False)
    check_problem = GymnaxProblem(cfg.env, policy, num_rollouts=100, use_normalize_obs=False)
    template = policy.init(jax.random.key(0), jnp.zeros((obs_dim,)), jax.random.key(0))
    es = SimpleGA(population_size=pop, solution=template, std_schedule=optax.constant_schedule(std))
    params = es.default_params

    @jax.jit
    def start(key):
        k1, k2, k3 = jax.random.split(key, 3)
        init_pop = jax.vmap(lambda k: policy.init(k, jnp.zeros((obs_dim,)), k))(jax.random.split(k1, pop))
        pstate = problem.init(k2)
        fit, pstate, _ = problem.eval(k3, init_pop, pstate)
        return es.init(k1, init_pop, -fit, params), pstate, fit

    @jax.jit
    def gen(key, state, pstate):
        k1, k2, k3 = jax.random.split(key, 3)
        population, state = es.ask(k1, state, params)
        fit, pstate, _ = problem.eval(k2, population, pstate)
        state, _ = es.tell(k3, population, -fit, state, params)
        i = jnp.argmax(fit)
        return state, pstate, fit[i], jax.tree_util.tree_map(lambda x: x[i], population), jnp.mean(fit)

    @jax.jit
    def check(key, member, pstate):
        one = jax.tree_util.tree_map(lambda x: x[None], member)
        fit, _, _ = check_problem.eval(key, one, pstate)
        return fit[0]

    def run(seed: int) -> dict:
        key = jax.random.key(seed)
        t0 = time.perf_counter()
        state, pstate, _ = start(key)
        g = 0
        while time.perf_counter() - t0 < cap_s and g < 10 * cfg.generations:
            g += 1
            state, pstate, best, member, _ = gen(jax.random.fold_in(key, g), state, pstate)
            if float(best) >= target and float(check(jax.random.fold_in(key, 10**6 + g), member, pstate)) >= target:
                return {"solved": True, "s": time.perf_counter() - t0, "generations": g}
        return {"solved": False, "s": time.perf_counter() - t0, "generations": g}

    first = run(10_000)  # includes compilation
    res = [run(s) for s in seeds]
    row = {"section": "time to threshold", "env": cfg.env, "threshold": target,
           "preset": f"peer: evosax {harness.pkg_version('evosax')} SimpleGA (std {std:g}) + GymnaxProblem", "pop": pop,
           "episodes": cfg.episodes, "solved_warm": f"{sum(r['solved'] for r in res)}/{len(seeds)}",
           "median_generations": _median([r["generations"] for r in res if r["solved"]]),
           "solve_with_compile_s": first["s"] if first["solved"] else None,
           "solve_warm_s": _median([r["s"] for r in res if r["solved"]]),
           "cap_s": cap_s}
    print(json.dumps(row), flush=True)
    return [row], []


EVOSAX_NOTE = ("evosax peer: SimpleGA(elite ratio 0.5, crossover_rate 0, Gaussian noise of the job's sigma on every "
               "weight) with the job's population size and episodes per member, GymnaxProblem rollouts (lax.scan of "
               "env.step with auto-reset, the full episode length always), MLP of the job's hidden widths with ReLU, "
               "argmax actions (tanh scaled to the bounds for Pendulum), raw observations (no bound normalisation); "
               "the same 100-fresh-episode check; solve_with_compile_s is its first (compiling) run in this process; a "
               "run that has not solved within cap_s seconds counts as unsolved")


def evosax_throughput(sizes: list[int], repeats: int) -> list[dict]:
    import jax
    import jax.numpy as jnp
    from evosax.problems import GymnaxProblem
    from evosax.problems.networks import MLP as EMLP

    policy = EMLP(layer_sizes=(16, 16, 2), activation=jax.nn.relu, output_fn=lambda x, key=None: jnp.argmax(x, -1))
    problem = GymnaxProblem("CartPole-v1", policy, num_rollouts=1, use_normalize_obs=False)
    rows = []
    for P in sizes:
        pop = jax.jit(jax.vmap(lambda k: policy.init(k, jnp.zeros((4,)), k)))(jax.random.split(jax.random.key(0), P))
        pstate = problem.init(jax.random.key(1))
        fn = jax.jit(lambda k, p: problem.eval(k, p, pstate)[0])
        big = P >= 10**6 and not _accelerator()      # ~1 min per call on the 2-core CPU
        t = harness.time_fn(fn, jax.random.key(2), pop, repeats=1 if big else repeats, warmup=0 if big else 1)
        rows.append({"section": "throughput", "P": P, "chunk": "peer: evosax GymnaxProblem", "early_exit": False,
                     "steps": 500, "first_call_s": t["compile_s"], "median_s": t["median_s"],
                     "members_per_s": P / t["median_s"], "env_steps_per_s": P * 500 / t["median_s"]})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def pygad_pipeline(seed: int, pop: int = 10, cap_s: float = PEER_CAP_S) -> dict[str, Any]:
    """The seed article's pipeline: PyGAD over a 4-16-16-2 ReLU MLP's 386 weights, fitness = summed
    reward of one gymnasium CartPole-v1 episode, population 10; PyTorch replaced by a NumPy forward
    pass. Solved when the generation's best passes 100 fresh gymnasium episodes with mean >= 475."""
    import gymnasium
    import numpy as np
    import pygad

    sizes = [(4, 16), (16, 16), (16, 2)]
    n = sum(a * b + b for a, b in sizes)
    rng = np.random.default_rng(seed)
    env = gymnasium.make("CartPole-v1")
    steps = [0]
    ep_seed = [seed * 1_000_003]

    def forward(w, obs):
        x, i = obs, 0
        for j, (a, b) in enumerate(sizes):
            W = w[i:i + a * b].reshape(b, a)
            i += a * b
            bias = w[i:i + b]
            i += b
            x = W @ x + bias
            if j < 2:
                x = np.maximum(x, 0.0)
        return x

    def episode(w) -> float:
        ep_seed[0] += 1
        obs, _ = env.reset(seed=ep_seed[0])
        total, done = 0.0, False
        while not done:
            obs, r, term, trunc, _ = env.step(int(np.argmax(forward(w, obs))))
            total += r
            steps[0] += 1
            done = term or trunc
        return total

    # torchga's initial population: the model's initial weights + U(-1, 1) per solution
    base = np.concatenate([np.concatenate([rng.uniform(-1 / np.sqrt(a), 1 / np.sqrt(a), a * b),
                                           rng.uniform(-1 / np.sqrt(a), 1 / np.sqrt(a), b)]) for a, b in sizes])
    init = base[None] + rng.uniform(-1.0, 1.0, (pop, n))
    t0 = time.perf_counter()
    result = {"solved": False}

    def on_generation(ga):
        fit = ga.last_generation_fitness
        i = int(np.argmax(fit))
        if fit[i] >= 475.0:
            w = ga.population[i]
            if np.mean([episode(w) for _ in range(100)]) >= 475.0:
                result.update(solved=True, generations=ga.generations_completed)
                return "stop"
        if time.perf_counter() - t0 > cap_s:
            return "stop"
        return None

    ga = pygad.GA(num_generations=100_000, num_parents_mating=5, fitness_func=lambda ga, w, i: episode(w),
                  initial_population=init, parent_selection_type="sss", keep_parents=-1,
                  crossover_type="single_point", mutation_type="random", mutation_percent_genes=10,
                  random_mutation_min_val=-1.0, random_mutation_max_val=1.0, on_generation=on_generation,
                  random_seed=seed, suppress_warnings=True)
    ga.run()
    wall = time.perf_counter() - t0
    result.update(s=wall, env_steps=steps[0], env_steps_per_s=steps[0] / wall)
    result.setdefault("generations", ga.generations_completed)
    return result


def pygad_cartpole(seeds: list[int]) -> tuple[list[dict], list[str]]:
    res = [pygad_pipeline(s) for s in seeds]
    row = {"section": "time to threshold", "env": "CartPole-v1", "threshold": 475.0,
           "preset": f"peer: PyGAD {harness.pkg_version('pygad')} + gymnasium (seed article)", "pop": 10, "episodes": 1,
           "solved_warm": f"{sum(r['solved'] for r in res)}/{len(seeds)}",
           "median_generations": _median([r["generations"] for r in res if r["solved"]]),
           "solve_warm_s": _median([r["s"] for r in res if r["solved"]]),
           "env_steps_per_s": _median([r["env_steps_per_s"] for r in res])}
    note = (f"PyGAD peer (the seed article's pipeline): PyGAD GA (steady-state selection, 5 parents, single-point "
            f"crossover, 10% of genes += U(-1, 1)), fitness = one gymnasium episode's summed reward, population 10, "
            f"NumPy MLP forward instead of PyTorch; same 100-fresh-episode check (gymnasium); {PEER_CAP_S:.0f} s cap "
            f"per seed; no compilation, so its time is all 'warm'")
    print(json.dumps(row), flush=True)
    return [row], [note]


# --------------------------------------------------------------------------------------------
def _is_peer(r: dict) -> bool:
    return str(r.get("preset", "")).startswith("peer:") or str(r.get("chunk", "")).startswith("peer:")


#: row groups: (section that measures them, which rows, note prefixes that belong to them)
_GROUPS = (
    ("threshold", lambda r: r.get("section") == "time to threshold" and not _is_peer(r),
     ("time to threshold", "the CLI compiles")),
    ("peers", lambda r: r.get("section") == "time to threshold" and _is_peer(r), ("evosax peer", "PyGAD peer")),
    ("throughput", lambda r: r.get("section") == "throughput" and not _is_peer(r), ("throughput",)),
    ("sweep", lambda r: r.get("section") == "chunk / early exit", ("chunk / early exit",)),
    ("evosax_throughput", lambda r: r.get("section") == "throughput" and _is_peer(r), ()),
)


def carry_over(rows: list[dict], notes: list[str], sections: set[str], previous: dict | None = None) -> None:
    """Copy the rows (and their notes) of the row groups this run did not measure from the previous
    result file of this backend, saying so."""
    previous = harness.previous_result("control") if previous is None else previous
    if previous is None:
        return
    when = (previous.get("env") or {}).get("utc", "?")
    copied = []
    for measured_by, belongs, note_prefixes in _GROUPS:
        if measured_by in sections:
            continue
        old = [r for r in previous.get("rows", []) if belongs(r)]
        if not old:
            continue
        rows.extend(old)
        copied.append(measured_by)
        notes.extend(n for n in previous.get("notes", []) if note_prefixes and n.startswith(note_prefixes))
    if copied:
        notes.append(f"rows of the sections {', '.join(copied)} are copied from the previous result ({when}, under "
                     f"its own machine load): this run did not measure them")
    rows.sort(key=lambda r: ({"time to threshold": 0, "throughput": 1}.get(r.get("section"), 2), _is_peer(r)))


def run(quick: bool, repeats: int) -> dict[str, Any]:
    """Benchmark entry point (see the module docstring)."""
    rows: list[dict] = []
    notes: list[str] = []
    sections = _sections()
    if "threshold" in sections:
        r, n = time_to_threshold(quick)
        rows += r
        notes += n
    seeds = list(range(3 if quick else 5))
    if "peers" in sections:
        if harness.peer_available("evosax"):
            for job in JOBS:   # CartPole gets the same cap as before; the others a cap of 4x our slowest solve
                r, _ = evosax_peer(job, seeds if job == "cartpole" else seeds[:3],
                                   PEER_CAP_S if job == "cartpole" else 30.0)
                rows += r
            notes.append(EVOSAX_NOTE)
        else:
            notes.append(harness.skip_note("evosax", "not installed"))
        if harness.peer_available("pygad") and harness.peer_available("gymnasium"):
            r, n = pygad_cartpole(seeds)
            rows += r
            notes += n
        else:
            notes.append(harness.skip_note("PyGAD pipeline", "pygad or gymnasium not installed"))
    if "throughput" in sections or "sweep" in sections:
        r, n = throughput(quick, repeats)
        rows += r
        notes += n
    if "evosax_throughput" in sections and harness.peer_available("evosax"):
        sizes = [10**3, 10**4] if quick else [10**3, 10**4, 10**5, 10**6]
        try:
            rows += evosax_throughput(sizes, max(1, repeats // 2))
        except Exception as exc:  # noqa: BLE001 - a peer version that does not run here
            notes.append(harness.skip_note("evosax throughput", f"{type(exc).__name__}: {exc}"[:300]))
    peer = {r["P"]: r["median_s"] for r in rows if str(r.get("chunk", "")).startswith("peer: evosax")}
    for r in rows:
        if r.get("section") == "throughput" and r["P"] in peer and not str(r.get("chunk", "")).startswith("peer"):
            r["x_evosax"] = peer[r["P"]] / r["median_s"]
    if sections != set(SECTIONS):
        notes.append(f"sections run: {', '.join(s for s in SECTIONS if s in sections)} ($BENCH_CONTROL)")
        carry_over(rows, notes, sections)
    notes.append("all figures from one run on the machine named above; other processes shared its 2 cores, "
                 "so wall-clock figures carry their load (compare rows of the same run only)")
    return {"rows": rows, "notes": notes}
