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


def test_the_drop_in_table_names_tests_that_exist() -> None:
    """Every ``test_file.py::test_name`` (or ``::test_name`` of the file named before it) in the third column of
    README's "the projects people have" table is a test function in that file (names shortened with … aside)."""
    text = README.split("The projects people have, and the test that covers each", 1)[1]
    table = re.search(r"\n(\|.*\|\n)+", text)
    assert table, "no drop-in table"
    cited = 0
    for row in table.group(0).strip().splitlines()[2:]:
        current = None
        for token in re.findall(r"`([^`]+)`", row.split("|")[3]):
            match = re.fullmatch(r"(test_\w+\.py)?::(\w+)(\[[^\]]*\])?", token)
            file_only = re.fullmatch(r"(test_\w+\.py)", token)
            if file_only:
                current = file_only.group(1)
                continue
            if match is None:
                continue  # a shortened name (…) or a path that is not a test
            current = match.group(1) or current
            assert current, f"{token!r} names no file"
            source = (ROOT / "tests" / current).read_text()
            assert f"def {match.group(2)}(" in source, f"README cites {current}::{match.group(2)}, which does not exist"
            cited += 1
    assert cited >= 15
