"""Machine ceilings only: matmul GFLOP/s and copy bandwidth (fresh, donated, numpy)."""

from __future__ import annotations

from typing import Any

from benchmarks import harness


def run(quick: bool, repeats: int) -> dict[str, Any]:
    """Measure (or reuse this process's) roofline and report it as one row per ceiling."""
    roof = harness.roofline(quick=quick, repeats=repeats)  # cached if __main__ measured it
    mib = roof["copy_bytes"] / 2**20
    n = roof["matmul_n"]
    rows = [
        {"ceiling": "matmul (jnp.dot, jit)", "size": f"{n}x{n} f32", "value": roof["matmul_gflops"],
         "unit": "GFLOP/s"},
        {"ceiling": "copy, fresh output (jit x+1)", "size": f"{mib:.0f} MiB", "value": roof["copy_fresh_gbps"],
         "unit": "GB/s"},
        {"ceiling": "copy, donated in place (jit x+1)", "size": f"{mib:.0f} MiB", "value": roof["copy_donated_gbps"],
         "unit": "GB/s"},
        {"ceiling": "numpy copyto (existing array)", "size": f"{mib:.0f} MiB", "value": roof["numpy_copy_gbps"],
         "unit": "GB/s"},
    ]
    notes = [
        "Copy bandwidth counts read + write bytes; median of the timed repeats after one warm-up.",
        "A jitted op that writes a fresh large buffer pays first-touch page faults; a donated "
        "(in-place) buffer does not - compare GA steps against the donated figure.",
    ]
    return {"rows": rows, "notes": notes, "roofline": roof}
