"""``python -m lr_recipes fit|validate|test|predict|plot|list``; see :mod:`lr_recipes.pack.cli`."""

import sys

from lr_recipes.pack.cli import main

if __name__ == "__main__":
    sys.exit(main())
