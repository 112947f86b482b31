"""``python -m lr_recipes <command>``; see :mod:`lr_recipes.pack.cli` (``python -m lr_recipes --help``).

The runnable pack needs the ``pack`` extra (torchvision, pillow, jsonargparse, ...); without it this says so
instead of failing on an import. The library itself (``import lr_recipes``) does not need it.
"""

import sys

# What `pip install "lr_recipes[pack]"` adds to the library's own dependencies (import names).
PACK_MODULES = ("torchvision", "PIL", "numpy", "jsonargparse", "torchmetrics")


def main() -> int:
    """Run the pack's command line (the ``lr-recipes`` script), or explain which extra to install.

    Example::

        >>> import lr_recipes.__main__ as entry
        >>> "torchvision" in entry.PACK_MODULES
        True
    """
    try:
        from lr_recipes.pack.cli import main as cli_main
    except ModuleNotFoundError as err:
        if (err.name or "").split(".")[0] not in PACK_MODULES:
            raise
        print(
            f"error: the lr_recipes command line needs the pack's dependencies ({err.name} is missing); "
            "install them with: pip install 'lr_recipes[pack]'",
            file=sys.stderr,
        )
        return 2
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
