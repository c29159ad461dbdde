"""The README's ```python blocks run as written (in order, sharing one namespace)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """``(line number, code)`` of every ```python fence in ``text``."""
    return [
        (text.count("\n", 0, m.start()) + 1, m.group(1)) for m in FENCE.finditer(text)
    ]


def test_fence_parser():
    text = (
        "intro\n```python\nx = 1\n```\n```bash\nls\n```\n\n```python\ny = x + 1\n```\n"
    )
    assert python_blocks(text) == [(2, "x = 1\n"), (9, "y = x + 1\n")]


def test_readme_python_blocks_run(tmp_path, monkeypatch, capsys):
    if not README.is_file():
        pytest.skip("README.md is not written yet")
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert blocks, "README.md has no ```python block"
    monkeypatch.chdir(tmp_path)  # blocks may write files (e.g. cooc.save("moby.cooc"))
    namespace: dict = {"__name__": "__readme__"}
    line = 0
    try:
        for line, code in blocks:
            exec(compile(code, f"README.md:{line}", "exec"), namespace)
    except Exception as exc:
        pytest.fail(f"README.md python block at line {line} failed: {exc!r}")
    capsys.readouterr()
