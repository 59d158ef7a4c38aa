"""Argument types shared by the command line's subcommands (argparse ``type=`` callables)."""

from __future__ import annotations

import argparse
from typing import Callable, TypeVar

__all__ = ["number_arg"]

N = TypeVar("N", int, float)


def number_arg(convert: Callable[[str], N], *, noun: str, accept: Callable[[N], bool],
               rule: str) -> Callable[[str], N]:
    """An argparse type: ``convert(text)`` (``int`` or ``float``), refused with ``"'x' is not <noun>"`` when it does
    not parse and ``"'x': <rule>"`` when ``accept(value)`` is false."""
    def parse(text: str) -> N:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"{text!r}: {rule}")
        return value
    parse.__name__ = noun.split()[-1]   # argparse names the type in "invalid <name> value" messages
    return parse
