"""The README stays true to the registry and the recipes folder (step 9 of CONTRIBUTING.md's checklist)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _builtin_recipes() -> set[str]:
    """The names registered in ``registry/builtin.py`` (read from its ``@register("...")`` decorators)."""
    tree = ast.parse((ROOT / "lr_recipes" / "registry" / "builtin.py").read_text())
    return {
        d.args[0].value
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        for d in node.decorator_list
        if isinstance(d, ast.Call) and ast.unparse(d.func) == "register"
    }


def _table_keys(section: str) -> set[str]:
    """The first-column entries (in backticks) of the first table after the heading ``section``."""
    text = README.split(f"\n{section}\n", 1)[1]
    table = re.search(r"\n(\|.*\|\n)+", text)
    assert table, f"no table under {section!r}"
    return set(re.findall(r"^\| `([^`]+)` \|", table.group(0), flags=re.M))


def test_the_recipe_table_lists_every_builtin_recipe() -> None:
    assert _table_keys("### The recipes") == _builtin_recipes()


def test_the_pack_table_lists_every_recipe_yaml() -> None:
    yamls = {p.name for p in (ROOT / "recipes").glob("*.yaml") if p.name != "smoke.yaml"}  # smoke: an overlay
    assert _table_keys("### Recipes") == yamls


def test_contributing_names_only_tests_that_exist() -> None:
    text = (ROOT / "CONTRIBUTING.md").read_text()
    for name in set(re.findall(r"tests/(test_\w+\.py)", text)):
        assert (ROOT / "tests" / name).is_file(), f"CONTRIBUTING.md cites tests/{name}, which does not exist"
