"""Several processes from the command line: JAX's multi-controller runtime (``jax.distributed``).

Every process runs the same command with its own ``--process-id``; they meet at ``--coordinator``
(process 0 hosts it) and form one set of devices, over which the population is split
(:mod:`evojax_ga.distributed`): each process evaluates and varies its own rows. Process 0 alone owns
the run folder (its lock, ``config.json``, ``metrics.jsonl``, parameters, plots, ``summary.json``);
every process writes its own shards of each checkpoint (orbax, :mod:`evojax_ga.orbax_checkpoint`).
The folder must be one that every process sees (one machine, or a shared file system), named with
``--out``.

Options, or the environment variables cluster launchers set (an option wins over its variable):

    --coordinator HOST:PORT   EVOJAX_GA_COORDINATOR     process 0's address, reachable by all
    --num-processes N         EVOJAX_GA_NUM_PROCESSES   (1: a plain single-process run)
    --process-id I            EVOJAX_GA_PROCESS_ID      in [0, N - 1]

A process that cannot reach the coordinator within ``--init-timeout`` seconds, or whose peer stops
answering for ``--heartbeat-timeout`` seconds (killed, crashed), exits with a message instead of
waiting for ever.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Mapping, NamedTuple

__all__ = ["Processes", "ENV", "JOBS", "add_arguments", "resolve", "join", "check_job", "joined", "peer_lost",
           "PeerLost", "failure_message", "leave", "DEFAULT_INIT_TIMEOUT", "DEFAULT_HEARTBEAT_TIMEOUT"]

#: option -> environment variable read when the option is not given
ENV = {"coordinator": "EVOJAX_GA_COORDINATOR", "num_processes": "EVOJAX_GA_NUM_PROCESSES",
       "process_id": "EVOJAX_GA_PROCESS_ID"}
#: jobs that run as several processes
JOBS = ("cartpole", "acrobot", "mountaincar", "pendulum", "control", "digits", "mnist")
DEFAULT_INIT_TIMEOUT = 60
DEFAULT_HEARTBEAT_TIMEOUT = 10

_ADDRESS = re.compile(r"^\[?[A-Za-z0-9.:_-]+\]?:(\d{1,5})$")


class Processes(NamedTuple):
    """How this process joins a multi-process run."""
    coordinator: str
    num_processes: int
    process_id: int
    init_timeout: int
    heartbeat_timeout: int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``processes`` option group (on every ``run`` job and on ``resume``)."""
    g = parser.add_argument_group("processes (one run over several processes or hosts; see README 'Scale out')")
    g.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help=f"address of process 0, which hosts the coordinator (default: ${ENV['coordinator']})")
    g.add_argument("--num-processes", type=int, default=None, metavar="N",
                   help=f"processes in the run; the population is split over all their devices "
                        f"(default: ${ENV['num_processes']}, else 1)")
    g.add_argument("--process-id", type=int, default=None, metavar="I",
                   help=f"this process, in [0, N - 1]; process 0 writes the run folder "
                        f"(default: ${ENV['process_id']})")
    g.add_argument("--init-timeout", type=int, default=DEFAULT_INIT_TIMEOUT, metavar="S",
                   help="seconds to wait for every process to reach the coordinator before giving up")
    g.add_argument("--heartbeat-timeout", type=int, default=DEFAULT_HEARTBEAT_TIMEOUT, metavar="S",
                   help="seconds without news from a process after which the others stop with an error")


def _int(value: object, name: str, env: str | None) -> int:
    where = f"--{name.replace('_', '-')}" + (f" (from ${env})" if env else "")
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"{where} must be an int, got {value!r}") from None


def resolve(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Processes | None:
    """The multi-process settings of ``args`` (options first, then :data:`ENV`); None for a single
    process. ValueError (one line, naming the option) for a bad or missing value."""
    environ = os.environ if environ is None else environ
    given = {}
    for name, var in ENV.items():
        value = getattr(args, name, None)
        source = None
        if value is None and environ.get(var, "").strip():
            value, source = environ[var], var
        given[name] = (value, source)
    n_value, n_source = given["num_processes"]
    n = 1 if n_value is None else _int(n_value, "num_processes", n_source)
    if n < 1:
        raise ValueError(f"--num-processes must be an int >= 1, got {n}")
    if n == 1:
        return None
    i_value, i_source = given["process_id"]
    if i_value is None:
        raise ValueError(f"--process-id is required with --num-processes {n} (or set ${ENV['process_id']})")
    i = _int(i_value, "process_id", i_source)
    if not 0 <= i < n:
        raise ValueError(f"--process-id must be in [0, {n - 1}] for --num-processes {n}, got {i}")
    address = given["coordinator"][0]
    if address is None:
        raise ValueError(f"--coordinator HOST:PORT is required with --num-processes {n} "
                         f"(or set ${ENV['coordinator']}): process 0's address")
    address = str(address).strip()
    m = _ADDRESS.match(address)
    if not m or not 1 <= int(m.group(1)) <= 65535:
        raise ValueError(f"--coordinator must be HOST:PORT with a port in [1, 65535], got {address!r}")
    timeouts = []
    for name, default in (("init_timeout", DEFAULT_INIT_TIMEOUT), ("heartbeat_timeout", DEFAULT_HEARTBEAT_TIMEOUT)):
        t = getattr(args, name, None)
        t = default if t is None else t
        if isinstance(t, bool) or not isinstance(t, int) or t < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be an int >= 1 (seconds), got {t!r}")
        timeouts.append(t)
    return Processes(address, n, i, timeouts[0], timeouts[1])


def check_job(job: str, processes: Processes | None, out: object = "given", seeds: object = 1) -> None:
    """ValueError when ``job`` cannot run as ``processes`` (a job without multi-process support, a
    ``--seeds`` run, or ``--out`` missing: every process must name the same folder)."""
    if processes is None:
        return
    if job not in JOBS:
        raise ValueError(f"--num-processes {processes.num_processes}: job {job!r} runs as one process only "
                         f"(jobs that run as several: {', '.join(JOBS)})")
    if seeds != 1:
        raise ValueError(f"--seeds {seeds} runs as one process only (--num-processes {processes.num_processes} "
                         f"splits one run's population): run one seed per process group")
    if out is None:
        raise ValueError(f"--out is required with --num-processes {processes.num_processes}: every process "
                         f"must name the same run folder")


def join(processes: Processes) -> None:
    """Join the run (``jax.distributed.initialize``) before any JAX computation; CPU collectives over
    gloo. ValueError naming the coordinator when it cannot be reached within the timeout."""
    import sys
    import time

    import jax

    from evojax_ga import distributed
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    who = f"process {processes.process_id} of {processes.num_processes}"
    t0 = time.monotonic()
    if processes.process_id != 0:   # (jaxlib aborts the process when it cannot connect: ask first)
        _wait_for(processes, who)
    # jaxlib ends the process itself if the others do not come in time: say first what it waits for
    print(f"evojax-ga: {who}: joining the run at {processes.coordinator} (waiting up to "
          f"{processes.init_timeout} s for every process, --init-timeout)", file=sys.stderr, flush=True)
    left = max(1, int(processes.init_timeout - (time.monotonic() - t0)))
    try:
        distributed.initialize(coordinator_address=processes.coordinator, num_processes=processes.num_processes,
                               process_id=processes.process_id, initialization_timeout=left,
                               heartbeat_timeout_seconds=processes.heartbeat_timeout)
    except Exception as exc:  # noqa: BLE001 - jaxlib raises its own error types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"process {processes.process_id} of {processes.num_processes} could not join the "
                         f"coordinator at {processes.coordinator} within {processes.init_timeout} s "
                         f"(--init-timeout): {first[:300]}") from None


def _wait_for(processes: Processes, who: str) -> None:
    """Wait until the coordinator accepts connections; ValueError after ``init_timeout`` seconds."""
    import socket
    import time
    host, port = processes.coordinator.rsplit(":", 1)
    host = host.strip("[]")
    deadline = time.monotonic() + processes.init_timeout
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=1.0):
                return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise ValueError(f"{who} could not reach the coordinator at {processes.coordinator} within "
                                 f"{processes.init_timeout} s (--init-timeout): {exc.strerror or exc}; start process "
                                 f"0 with the same --coordinator, or check the address") from None
            time.sleep(0.2)


def joined() -> bool:
    """Whether this process joined a multi-process run (:func:`join`)."""
    import sys
    if "jax" not in sys.modules:
        return False
    from jax._src import distributed as _dist
    return _dist.global_state.client is not None


class PeerLost(RuntimeError):
    """The run stopped because another of its processes failed or vanished; ``str()`` is the line to print."""


#: what JAX's collectives and coordination client say when a peer process has gone
_PEER_LOST = ("Gloo", "Connection reset", "Connection refused", "Socket closed", "heartbeat", "UNAVAILABLE",
              "coordination service", "another process did not reach")


def peer_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says another process of the run failed or vanished (not an error of this one)."""
    return any(s in str(exc) for s in _PEER_LOST)


def failure_message(exc: BaseException, run_dir: object) -> str:
    """The one-line error of a process whose run stopped because another process failed or vanished
    (``exc``: the error this process saw, e.g. a collective whose peer's socket closed)."""
    import jax
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    then = (f"its newest checkpoint is kept: 'evojax-ga resume {run_dir}' continues it, on any number of processes"
            if run_dir else "start it again")
    return (f"evojax-ga: error: process {jax.process_index()} of {jax.process_count()}: the run stopped because "
            f"another process failed or was killed ({text[:240]}); {then}")


def leave(code: int) -> None:
    """End a process of a multi-process run that stops with exit status ``code`` != 0 at once: without
    the orderly shutdown, which would wait for processes that are gone or stuck (the others then see
    this one vanish within their heartbeat timeout instead of waiting at a barrier)."""
    import sys
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
