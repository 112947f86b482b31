"""Spec checking: a spec dict (``{"name": "cosine", "warmup": "5ep"}``) against its recipe's typed parameters.

Example::

    >>> from lr_recipes.registry import check_spec
    >>> check_spec("step", step_size="30ep")
    {'name': 'step', 'step_size': '30ep'}
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Union

from lr_recipes.registry.base import Recipe, RecipeError, _did_you_mean, _show, _type_name
from lr_recipes.registry.entries import available, get_recipe
from lr_recipes.units import Duration, DurationError


def check_spec(spec: str | Mapping[str, Any], **params: Any) -> dict[str, Any]:
    """Check a spec without a run (name, parameter names, types, required ones); return it as a dict.

    Durations are checked for their units but not against a run: :func:`build` does that. Use it to fail
    at configuration time instead of at ``configure_optimizers``.

    Raises:
        RecipeError: as :func:`build` does for the same mistakes.

    Example::

        >>> check_spec("cosine", warmup="5ep")
        {'name': 'cosine', 'warmup': '5ep'}
        >>> check_spec({"name": "cosine", "min_lr_ration": 0.1})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lr_recipes.registry.RecipeError: recipe 'cosine' has no parameter 'min_lr_ration' (did you mean ...
    """
    name, params = _split_spec(spec, params)
    _coerce_spec(get_recipe(name), params)
    return {"name": name, **params}


def _split_spec(spec: str | Mapping[str, Any], params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(name, parameters)`` of a spec (a name or ``{"name": ..., **params}``) with ``params`` merged in."""
    if isinstance(spec, str):
        return spec, dict(params)
    if not isinstance(spec, Mapping):
        raise RecipeError(
            f"spec={spec!r} ({type(spec).__name__}); give a recipe name like 'cosine' or a dict "
            "{'name': 'cosine', ...params}"
        )
    spec = dict(spec)
    if "name" not in spec:
        raise RecipeError(f"recipe spec {spec} has no 'name'; available: {', '.join(available())}")
    name = spec.pop("name")
    twice = sorted(set(spec) & set(params))
    if twice:
        raise RecipeError(f"recipe {name!r}: {', '.join(twice)} given both in the spec and as keyword arguments")
    spec.update(params)
    return name, spec


def _coerce_spec(rec: Recipe, spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key not in rec.params:
            raise RecipeError(
                f"recipe {rec.name!r} has no parameter {key!r}{_did_you_mean(key, rec.params)}; "
                f"its parameters: {', '.join(rec.params)}"
            )
        out[key] = _coerce(value, rec.params[key].annotation, rec.name, key)
    for p in rec.params.values():
        if p.name not in out:
            if p.required:
                raise RecipeError(
                    f"recipe {rec.name!r} needs {p.name} ({p.type_name()}){': ' + p.doc if p.doc else ''}"
                )
            out[p.name] = p.default
    return out


def _coerce(value: Any, tp: Any, recipe: str, param: str) -> Any:
    """Check (and normalise) ``value`` against the annotation ``tp``; raise a RecipeError naming both."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, recipe, param)
            except RecipeError as err:
                errors.append(err)
        if len(errors) == 1:
            raise errors[0]
        raise RecipeError(f"recipe {recipe!r}: {param}={_show(value)} is not {_type_name(tp)}")
    if origin is Literal:
        if value in args:
            return value
        raise RecipeError(
            f"recipe {recipe!r}: {param}={_show(value)} is not allowed{_did_you_mean(str(value), args)}; "
            f"allowed: {', '.join(map(repr, args))}"
        )
    if origin in (list, tuple, Sequence):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise RecipeError(f"recipe {recipe!r}: {param}={_show(value)} is not {_type_name(tp)}")
        return [_coerce(v, args[0], recipe, f"{param}[{i}]") for i, v in enumerate(value)]
    if tp is Duration:
        try:
            return Duration.parse(value, param=param)
        except DurationError as err:
            raise RecipeError(f"recipe {recipe!r}: {err}") from None
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            # PyYAML reads 1e-3 (no dot) as a string; the number is unambiguous, so accept it.
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
    else:
        raise RecipeError(f"recipe {recipe!r}: parameter {param!r} has an unsupported type {tp!r}")
    raise RecipeError(
        f"recipe {recipe!r}: {param}={_show(value)} ({type(value).__name__}) is not allowed; allowed: {_type_name(tp)}"
    )
