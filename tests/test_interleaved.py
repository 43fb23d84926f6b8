"""benchmarks/interleaved.py: contenders are timed in turn within each repeat, chained state fed back."""

from benchmarks.interleaved import Timed, time_interleaved


def test_contenders_run_in_turn_and_a_chained_state_is_fed_back():
    calls = []

    def a(x):
        calls.append("a")
        return x

    def b(state, step):
        calls.append(("b", state))
        return state + step

    out = time_interleaved({"a": Timed(a, (1,)), "b": Timed(b, (0, 10), chained=True)}, repeats=3, warmup=1)
    # compile call, 1 warm-up, 3 repeats: a, b, a, b, ... (never a, a, a, b, b, b)
    assert [c if c == "a" else "b" for c in calls] == ["a", "b"] * 5
    assert [c[1] for c in calls if c != "a"] == [0, 10, 20, 30, 40]      # b's output is its next input
    assert set(out) == {"a", "b"} and all(len(r["times_s"]) == 3 for r in out.values())
    assert all(r["compile_s"] >= 0 and r["median_s"] >= r["min_s"] for r in out.values())
