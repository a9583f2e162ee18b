"""Every ```python block of README.md runs, each in a fresh interpreter, so the README cannot
drift from the code.

The substitution the README announces, and nothing else: paths under ``/tmp/`` and ``/var/``
move into the test's temporary directory, ``redis://localhost:6379/0`` becomes the test Redis
(``BEAKER_TEST_REDIS_URL``) and the ``"myapp:"`` key prefix a fresh one, so the blocks neither
touch the machine nor meet another test's keys.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)
PATH = re.compile(r"""(["'])(/(?:tmp|var)/)""")
REDIS = "redis://localhost:6379/0"


def _blocks() -> list[tuple[int, str]]:
    """The python blocks, with the README line each starts on."""
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in BLOCK.finditer(text)]


BLOCKS = _blocks()


def test_the_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize(("line", "code"), BLOCKS, ids=[f"line{n}" for n, _ in BLOCKS])
def test_readme_example_runs(
    line: int, code: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    code = PATH.sub(lambda m: f"{m.group(1)}{tmp_path}{m.group(2)}", code)
    if REDIS in code:
        code = code.replace(REDIS, request.getfixturevalue("redis_url"))
        code = code.replace('"myapp:"', repr(f"readme-{uuid.uuid4().hex}:"))
    script = tmp_path / f"readme_line{line}.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"README.md line {line}:\n{code}\n{done.stderr[-4000:]}"
