"""The registry itself: :func:`register`, :func:`unregister`, :func:`available`, :func:`get_recipe`.

Example::

    >>> from lr_recipes.registry import available
    >>> "cosine" in available()
    True
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

from lr_recipes.registry.base import HORIZON_PARAMS, WARMUP_PARAMS, Param, Recipe, RecipeError, _did_you_mean
from lr_recipes.units import Duration  # noqa: F401 -- used by the docstring example

_STEP_FORM_INJECTED = ("step", "total_steps", "steps_per_epoch")
_REGISTRY: dict[str, Recipe] = {}


def register(name: str, *, plateau: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a recipe under ``name`` (a decorator; the function is returned unchanged).

    The function's keyword parameters, with their type hints and defaults, are the recipe's parameters;
    ``warmup``, ``warmup_start_factor`` and ``warmup_shape`` are added to every recipe, and so are the horizon
    parameters ``on_resume``, ``cooldown``, ``cooldown_start`` and ``cooldown_shape`` (a plateau recipe gets
    ``on_resume`` only). Parameters
    annotated :class:`~lr_recipes.units.Duration` take ``"30ep"``/``"500st"``/``"10%"`` and arrive in a
    step-form function as whole optimizer steps.

    Args:
        name: the recipe's name in specs, YAML and ``python -m lr_recipes list``.
        plateau: the factory returns a :class:`PlateauSpec` (a metric-driven recipe).

    Raises:
        RecipeError: if the name is taken or a parameter lacks a type hint.

    Example::

        >>> @register("halving")
        ... def halving(step: int, every: Duration = Duration(10, "st")) -> float:
        ...     return 0.5 ** (step // every)
        >>> "halving" in available()
        True
        >>> unregister("halving")
    """

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY:
            raise RecipeError(f"a recipe named {name!r} is already registered; pick another name or unregister it")
        _REGISTRY[name] = _make_recipe(name, fn, plateau=plateau)
        return fn

    return decorator


def unregister(name: str) -> None:
    """Remove a recipe (mainly for tests and notebooks that re-run a ``@register`` cell).

    Example::

        >>> unregister("no-such-recipe")
    """
    _REGISTRY.pop(name, None)


def available() -> list[str]:
    """The registered recipe names, sorted.

    Example::

        >>> available()[:3]
        ['constant', 'cosine', 'cosine_restarts']
    """
    return sorted(_REGISTRY)


def get_recipe(name: str) -> Recipe:
    """The :class:`Recipe` registered as ``name``.

    Raises:
        RecipeError: for an unknown name, listing the available ones and the closest match.

    Example::

        >>> get_recipe("cosine").name
        'cosine'
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise RecipeError(
            f"unknown recipe {name!r}{_did_you_mean(str(name), _REGISTRY)}; available: {', '.join(available())}"
        )
    return _REGISTRY[name]


def _make_recipe(name: str, fn: Callable[..., Any], *, plateau: bool) -> Recipe:
    sig = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except NameError as err:
        raise RecipeError(f"recipe {name!r}: cannot resolve the type hints of {fn.__qualname__}: {err}") from err
    names = list(sig.parameters)
    step_form = bool(names) and names[0] == "step"
    docs = _param_docs(fn)
    params: dict[str, Param] = {}
    for i, (pname, p) in enumerate(sig.parameters.items()):
        if step_form and pname in _STEP_FORM_INJECTED:
            continue
        if not step_form and i == 0:  # the RecipeContext
            continue
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise RecipeError(f"recipe {name!r}: *args/**kwargs are not allowed; list every parameter")
        if pname not in hints:
            raise RecipeError(f"recipe {name!r}: parameter {pname!r} needs a type hint (float, int, Duration, ...)")
        if pname in WARMUP_PARAMS or (pname in HORIZON_PARAMS and not plateau):
            raise RecipeError(f"recipe {name!r}: {pname!r} is added to every recipe; do not declare it")
        params[pname] = Param(pname, hints[pname], p.default, docs.get(pname, ""))
    for pname, (annotation, default, doc) in WARMUP_PARAMS.items():
        params[pname] = Param(pname, annotation, default, doc)
    for pname, (annotation, default, doc) in HORIZON_PARAMS.items():
        if not plateau or pname == "on_resume":
            params[pname] = Param(pname, annotation, default, doc)
    summary = (inspect.getdoc(fn) or "").split("\n\n")[0].replace("\n", " ")
    return Recipe(name, fn, params, plateau=plateau, step_form=step_form, summary=summary)


def _param_docs(fn: Callable[..., Any]) -> dict[str, str]:
    try:  # installed with jsonargparse[signatures]; without it recipes work, undocumented in `list`
        import docstring_parser
    except ImportError:
        return {}
    parsed = docstring_parser.parse(inspect.getdoc(fn) or "")
    return {p.arg_name: " ".join((p.description or "").split()) for p in parsed.params}
