"""The package README's Python example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parents[2] / "packages" / "procedura-devserver" / "README.md"


def test_readme_example_logs_in_and_reads_the_world(capsys):
    example = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert example, "the README lost its Python example"
    exec(compile(example.group(1), str(README), "exec"), {"__name__": "readme_example"})  # noqa: S102
    printed = capsys.readouterr().out
    assert "'status': 'finished'" in printed and "'version': 3" in printed
