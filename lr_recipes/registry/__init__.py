"""Recipe names → schedules: :func:`register`, :func:`available`, :func:`build`.

A *recipe* is a registered factory with typed, defaulted parameters. :func:`build` checks a spec
against it (unknown names, wrong types, bad ranges, durations that do not fit the run: all errors
before the first step), resolves the durations against the run, adds the optional warmup and returns
the ``lr_scheduler`` config that Lightning's ``configure_optimizers`` expects.

There are two ways to write a recipe. The short one is a function of the step that returns a factor
of each group's base LR; the step counts from the end of warmup and ``total_steps`` is the rest of the
run::

    @register("linear_decay")
    def linear_decay(step: int, total_steps: int, end_factor: float = 0.0) -> float:
        return 1.0 - (1.0 - end_factor) * step / total_steps

The full one takes a :class:`RecipeContext` and returns one :class:`~lr_recipes.schedules.Schedule`
per param group (that is how the built-in recipes in :mod:`lr_recipes.registry.builtin` are written).

Example::

    >>> import torch, lr_recipes
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> config = lr_recipes.build("cosine", opt, total_steps=100, steps_per_epoch=10, warmup="1ep")
    >>> config["interval"], round(config["scheduler"].lr_at(10)[0], 6)
    ('step', 0.1)

The package, one concern per file (each imports only the ones above it):

- :mod:`~lr_recipes.registry.base`: the shared types (``RecipeError``, ``Param``, ``Recipe``, ``PerGroup``);
- :mod:`~lr_recipes.registry.entries`: the registry (``register``, ``available``, ``get_recipe``);
- :mod:`~lr_recipes.registry.spec`: checking a spec against a recipe's typed parameters (``check_spec``);
- :mod:`~lr_recipes.registry.context`: the factory API (``RecipeContext``, ``PlateauSpec``);
- :mod:`~lr_recipes.registry.step_form`: the adapter for recipes written as ``fn(step) -> factor``;
- :mod:`~lr_recipes.registry.build`: assembly (``build``);
- :mod:`~lr_recipes.registry.builtin`: the built-in recipes.
"""

from lr_recipes.registry import builtin as _builtin  # noqa: F401 -- registers the built-in recipes
from lr_recipes.registry.base import Param, PerGroup, Recipe, RecipeError
from lr_recipes.registry.build import build
from lr_recipes.registry.context import PlateauSpec, RecipeContext
from lr_recipes.registry.entries import available, get_recipe, register, unregister
from lr_recipes.registry.spec import check_spec
from lr_recipes.registry.step_form import FactorSchedule

__all__ = [
    "FactorSchedule",
    "Param",
    "PerGroup",
    "PlateauSpec",
    "Recipe",
    "RecipeContext",
    "RecipeError",
    "available",
    "build",
    "check_spec",
    "get_recipe",
    "register",
    "unregister",
]
