"""The README keeps its two set-up commands and documents every registered method."""

from pathlib import Path

from unlearn_audit.methods import METHODS

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_keeps_the_two_commands():
    text = README.read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text


def test_every_registered_method_is_in_the_readme_table():
    text = README.read_text(encoding="utf-8")
    builtin = [name for name in METHODS if METHODS[name].fn.__module__.startswith("unlearn_audit.")]
    missing = [name for name in builtin if f"| `{name}` |" not in text]
    assert not missing, f"README method table lacks {missing}"
