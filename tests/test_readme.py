"""README examples that must run as printed."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_block_after(heading: str) -> str:
    """The first ```python block after the line ``heading`` in README.md."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    m = re.compile(r"```python\n(.*?)```", re.S).search(text, start)
    assert m is not None, f"no python block after {heading!r}"
    return m.group(1)


def test_own_numpy_arrays_example_runs_and_learns(capsys):
    """The "Your own data" snippet: NumPy arrays wrapped in a Dataset, evolved; the XOR-of-signs
    labels are learned well above chance (0.5)."""
    code = python_block_after("### Your own data")
    assert "Dataset(" in code and "ega.evolve(" in code
    scope: dict = {}
    exec(compile(code, str(README), "exec"), scope)   # noqa: S102 - the README's own code
    printed = capsys.readouterr().out
    accuracy = float(re.search(r"test accuracy ([0-9.]+)", printed).group(1))
    assert accuracy >= 0.8 and scope["history"].generations_run == 40
    assert scope["data"].num_classes == 2 and scope["pop"]["params"]["Dense_0"]["kernel"].shape[0] == 128
