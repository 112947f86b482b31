"""lr_recipes: closed-form learning-rate schedules for PyTorch Lightning.

- :func:`build` turns a recipe name or spec into a Lightning ``lr_scheduler`` config;
- :func:`register` adds a recipe, :func:`available` lists them;
- :class:`LRSchedulerCallback` logs the LR every optimizer step and steps plateau schedulers after
  every validation run;
- :class:`RecipeModule` builds optimizer and schedule from its constructor (LightningCLI friendly).

Example::

    >>> import lr_recipes
    >>> "cosine" in lr_recipes.available()
    True
"""

from typing import TYPE_CHECKING, Any

from lr_recipes.registry import (
    PlateauSpec,
    Recipe,
    RecipeContext,
    RecipeError,
    available,
    build,
    check_spec,
    get_recipe,
    register,
    unregister,
)
from lr_recipes.units import Duration, DurationError, Run

if TYPE_CHECKING:
    from lr_recipes.callback import LRSchedulerCallback
    from lr_recipes.module import RecipeModule
    from lr_recipes.scheduler import PlateauScheduler, RecipeScheduler

__version__ = "0.1.0"

# torch- and Lightning-dependent names load on first use, so the math (lr_recipes.schedules) and the registry
# import in milliseconds without torch.
_LAZY = {
    "LRSchedulerCallback": "lr_recipes.callback",
    "RecipeModule": "lr_recipes.module",
    "PlateauScheduler": "lr_recipes.scheduler",
    "RecipeScheduler": "lr_recipes.scheduler",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lr_recipes' has no attribute {name!r}")


__all__ = [
    "Duration",
    "DurationError",
    "LRSchedulerCallback",
    "PlateauScheduler",
    "PlateauSpec",
    "Recipe",
    "RecipeContext",
    "RecipeError",
    "RecipeModule",
    "RecipeScheduler",
    "Run",
    "available",
    "build",
    "check_spec",
    "get_recipe",
    "register",
    "unregister",
]
