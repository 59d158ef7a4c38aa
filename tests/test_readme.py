"""The README is a tested document: every Python block runs, every shell command exists and parses.

- ``python`` blocks are executed in a fresh namespace in a temporary folder (they may write files there);
- ``bash`` blocks: each ``make X`` names a target of the Makefile, each ``unlearn-audit ...`` line parses with
  the CLI's own parser (nothing is run: ``make demo`` takes minutes), each ``pytest ...`` is not checked;
- the README keeps its two set-up commands and documents every registered method.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from unlearn_audit.methods import METHODS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def _blocks(lang: str) -> list[str]:
    return [body for kind, body in BLOCK.findall(README.read_text(encoding="utf-8")) if kind == lang]


def test_readme_keeps_the_two_commands():
    text = README.read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text


def test_every_registered_method_is_in_the_readme_table():
    text = README.read_text(encoding="utf-8")
    builtin = [name for name in METHODS if METHODS[name].fn.__module__.startswith("unlearn_audit.")]
    missing = [name for name in builtin if f"| `{name}` |" not in text]
    assert not missing, f"README method table lacks {missing}"


def test_readme_has_python_and_shell_blocks():
    assert len(_blocks("python")) >= 2 and len(_blocks("bash")) >= 2


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_block_runs(index, tmp_path, monkeypatch, capsys):
    """Executed as written (a block that does not run fails here, as ``NameError: factory`` would)."""
    monkeypatch.chdir(tmp_path)
    code = _blocks("python")[index]
    namespace: dict = {"__name__": f"readme_block_{index}"}
    exec(compile(code, f"README.md python block {index}", "exec"), namespace)  # noqa: S102 - our own README
    if "run_audit" in code:       # the library example: it audited, printed a table and wrote three files
        out = capsys.readouterr().out
        assert "Unlearning audit:" in out and max(len(line) for line in out.splitlines()) <= 100
        assert {p.name for p in tmp_path.iterdir()} >= {"report.json", "report.html", "checklist.md"}


def _commands() -> list[list[str]]:
    out = []
    for body in _blocks("bash"):
        for line in body.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                out.append(shlex.split(line))
    return out


def test_make_targets_exist():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = {m.group(1) for m in re.finditer(r"^([\w-]+):", makefile, re.M)}
    used = [cmd[1] for cmd in _commands() if cmd[0] == "make"]
    assert used and not [t for t in used if t not in targets]


def test_cli_commands_parse():
    from unlearn_audit.cli import build_parser

    lines = [cmd[1:] for cmd in _commands() if cmd[0] == "unlearn-audit"]
    assert len(lines) >= 5
    for argv in lines:
        try:
            build_parser().parse_args(argv)
        except SystemExit as exc:  # argparse's way of refusing
            raise AssertionError(f"README: `unlearn-audit {' '.join(argv)}` does not parse") from exc
