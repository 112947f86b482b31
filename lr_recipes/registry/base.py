"""The registry's shared types: :class:`RecipeError`, :class:`Param`, :class:`Recipe`, ``PerGroup``.

The lowest file of :mod:`lr_recipes.registry`: every other file of the package imports from here, and this file
imports none of them, so the package has no import circle.

Example::

    >>> from lr_recipes.registry.base import RecipeError
    >>> issubclass(RecipeError, ValueError)
    True
"""

from __future__ import annotations

import difflib
import inspect
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Union

from lr_recipes.schedules.horizon import OnResume
from lr_recipes.schedules.warmup import WarmupShape
from lr_recipes.schedules.wsd import DecayShape
from lr_recipes.units import Duration

PerGroup = Union[float, list[float]]  # noqa: UP007 -- a runtime alias read by get_type_hints
"""A value for every param group (one float) or one per group (a list)."""

_REQUIRED = inspect.Parameter.empty
WARMUP_PARAMS: dict[str, tuple[Any, Any, str]] = {
    "warmup": (Union[Duration, None], None, 'warmup length, e.g. "5ep", "500st" or "2%"; none by default'),  # noqa: UP007
    "warmup_start_factor": (
        float,
        0.01,
        "LR at the first step as a fraction of the post-warmup LR, in [0, 1]",
    ),
    "warmup_shape": (WarmupShape, "linear", "shape of the warmup ramp"),
}


HORIZON_PARAMS: dict[str, tuple[Any, Any, str]] = {
    "on_resume": (
        OnResume,
        "error",
        "when a resumed run resolves to another plan (length, steps per epoch): error (default), replan "
        "(fit the rest of the schedule to the new end, no LR jump) or keep (the checkpoint's plan)",
    ),
    "cooldown": (
        Union[Duration, None],  # noqa: UP007
        None,
        "decay from the current LR to the floor over this duration, from the resume step or cooldown_start "
        '(e.g. "2000st"); the run ends with it',
    ),
    "cooldown_start": (Union[Duration, None], None, "where the cooldown starts; the resume step by default"),  # noqa: UP007
    "cooldown_shape": (DecayShape, "1-sqrt", "shape of the cooldown"),
}
"""Parameters added to every recipe after the warmup ones (a plateau recipe gets only ``on_resume``: its
``cooldown`` is ``ReduceLROnPlateau``'s)."""


class RecipeError(ValueError):
    """A recipe spec that cannot be built: unknown name, unknown parameter, bad value or bad duration."""

    # Shown in tracebacks as its public path, where users import it from.
    __module__ = "lr_recipes.registry"


@dataclass(frozen=True)
class Param:
    """One parameter of a recipe: its name, type, default (``inspect.Parameter.empty`` if required) and doc.

    Example::

        >>> from lr_recipes.registry import get_recipe
        >>> get_recipe("step").params["gamma"].default
        0.1
    """

    name: str
    annotation: Any
    default: Any
    doc: str = ""

    @property
    def required(self) -> bool:
        """Whether the spec must give this parameter.

        Example::

            >>> from lr_recipes.registry import get_recipe
            >>> get_recipe("step").params["step_size"].required
            True
        """
        return self.default is _REQUIRED

    def type_name(self) -> str:
        """A short readable type, as shown by ``python -m lr_recipes list``.

        Example::

            >>> from lr_recipes.registry import get_recipe
            >>> get_recipe("multistep").params["milestones"].type_name()
            'list[duration]'
        """
        return _type_name(self.annotation)


@dataclass(frozen=True)
class Recipe:
    """A registered recipe: its factory, parameters (warmup ones included) and kind.

    Example::

        >>> from lr_recipes.registry import get_recipe
        >>> r = get_recipe("plateau")
        >>> r.plateau, "patience" in r.params, "warmup" in r.params
        (True, True, True)
    """

    name: str
    factory: Callable[..., Any]
    params: dict[str, Param]
    plateau: bool = False
    step_form: bool = False
    summary: str = ""

    def describe(self) -> str:
        """A multi-line description: summary and every parameter with type, default and doc.

        Example::

            >>> from lr_recipes.registry import get_recipe
            >>> print(get_recipe("constant").describe().splitlines()[0])
            constant: The base LR at every step (combine with ``warmup``); matches ``ConstantLR(factor=1)``.
        """
        lines = [f"{self.name}: {self.summary}"]
        for p in self.params.values():
            default = "required" if p.required else f"default {_show(p.default)}"
            lines.append(f"    {p.name}: {p.type_name()} ({default}){' - ' + p.doc if p.doc else ''}")
        return "\n".join(lines)


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _type_name(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (list, tuple, Sequence):
        return f"list[{_type_name(args[0])}]"
    if tp is Duration:
        return "duration"
    if tp is type(None):
        return "None"
    return getattr(tp, "__name__", str(tp))


def _plain(value: Any) -> Any:
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _show(value: Any) -> str:
    if isinstance(value, Duration):
        return repr(str(value))
    if isinstance(value, list) and any(isinstance(v, Duration) for v in value):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value)
