"""The layering rule of CONTRIBUTING.md, enforced: the math imports neither torch nor Lightning, the library
imports nothing from the pack (nor the pack's extra dependencies), and the registry has no import circle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import lr_recipes

PACKAGE = Path(lr_recipes.__file__).parent
PACK_ONLY = ("torchvision", "PIL", "numpy", "jsonargparse", "torchmetrics")  # the `pack` extra, as import names


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, *, top_level_only: bool = False) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in ``path`` (relative imports resolved), function-level ones too
    unless ``top_level_only``; imports under ``if TYPE_CHECKING:`` never run and are skipped."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    skipped = {
        id(n)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for n in ast.walk(block)
    }
    package = _module_name(path).rsplit(".", 0 if path.name == "__init__.py" else 1)[0]
    out = []
    for node in nodes:
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                out.append((node.lineno, ".".join([*base, node.module] if node.module else base)))
            else:
                out.append((node.lineno, node.module or ""))
    return out


def _files(under: Path) -> list[Path]:
    return sorted(under.rglob("*.py"))


def test_the_schedules_import_only_the_standard_library_and_each_other() -> None:
    stdlib = sys.stdlib_module_names
    for path in _files(PACKAGE / "schedules"):
        for line, module in _imports(path):
            top = module.split(".")[0]
            ok = top in stdlib or module.startswith("lr_recipes.schedules") or module == "__future__"
            assert ok, f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}: the math is pure Python"


def test_importing_the_schedules_loads_neither_torch_nor_lightning() -> None:
    code = "import sys, lr_recipes.schedules; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "'torch'" not in loaded and "'lightning'" not in loaded, loaded


def test_the_library_imports_nothing_from_the_pack_nor_its_extra() -> None:
    for path in _files(PACKAGE):
        if (PACKAGE / "pack") in path.parents or path == PACKAGE / "__main__.py":  # the pack and its front door
            continue
        for line, module in _imports(path):
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            assert not module.startswith("lr_recipes.pack"), (
                f"{where} imports {module}: the library never uses the pack"
            )
            assert module.split(".")[0] not in PACK_ONLY, (
                f"{where} imports {module}, which only the pack extra installs"
            )


def test_the_registry_has_no_import_circle() -> None:
    """Module-level imports between the registry's files form a DAG (``base`` at the bottom)."""
    files = {_module_name(p): p for p in _files(PACKAGE / "registry")}
    graph = {
        name: {m for _, m in _imports(path, top_level_only=True) if m in files and m != name}
        for name, path in files.items()
    }
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, f"import circle: {' -> '.join((*trail[trail.index(name) :], name))}"
        if name not in done:
            for dep in graph[name]:
                visit(dep, (*trail, name))
            done.add(name)

    for name in graph:
        visit(name, ())
    assert graph["lr_recipes.registry.base"] <= set(), "base is the lowest file: it imports no other registry file"


# A fresh interpreter where torchvision is not installed: imports fail and package metadata says it is absent
# (torchmetrics, which Lightning imports, asks the metadata before importing torchvision).
_WITHOUT_TORCHVISION = """
import importlib.metadata as md, sys
hidden = lambda name: name.split(".")[0] == "torchvision"
class Absent:
    def find_spec(self, name, path=None, target=None):
        if hidden(name):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Absent())
def only_present(lookup):
    def wrapped(name):
        if hidden(name):
            raise md.PackageNotFoundError(name)
        return lookup(name)
    return wrapped
md.version, md.distribution = only_present(md.version), only_present(md.distribution)

import torch
import lr_recipes
from lr_recipes import LRSchedulerCallback, RecipeModule, build
opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
build("cosine", opt, total_steps=10, steps_per_epoch=5)
LRSchedulerCallback()
assert "torchvision" not in sys.modules
from lr_recipes.__main__ import main
sys.argv = ["lr-recipes", "list"]
sys.exit(main())
"""


def test_the_callback_and_build_need_no_pack_dependency() -> None:
    proc = subprocess.run([sys.executable, "-c", _WITHOUT_TORCHVISION], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]  # the library worked; the pack's command line said why not
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: the lr_recipes command line needs the pack's dependencies (torchvision is missing); "
        "install them with: pip install 'lr_recipes[pack]'"
    )
