"""The notebooks in ``notebooks/`` run top to bottom, and are committed without outputs.

Each notebook is executed with nbclient in a fresh kernel whose working directory is a temporary one (the
notebooks write Lightning logs there, never into the repository), with ``LR_RECIPES_NOTEBOOK_SMOKE=1``: the
notebooks read it in their first code cell and shrink any training. New notebooks are picked up by the glob.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 300


def test_notebooks_are_found() -> None:
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"


@pytest.fixture
def this_python_kernel(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> str:
    """A ``python3`` kernelspec that runs this interpreter, so the kernel imports the same lr_recipes.

    The kernelspec found first on ``JUPYTER_PATH`` wins over a user-level ``python3`` that may point at another
    Python (where lr_recipes is not installed).
    """
    jupyter_dir = tmp_path_factory.mktemp("jupyter")
    write_kernel_spec(jupyter_dir / "kernels" / "python3")
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter_dir))
    assert KernelSpecManager().get_kernel_spec("python3").argv[0] == sys.executable
    return "python3"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, this_python_kernel: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LR_RECIPES_NOTEBOOK_SMOKE", "1")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name=this_python_kernel,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on the first failing cell


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_has_no_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and (cell.outputs or cell.execution_count)
    ]
    assert not dirty, (
        f"{path.name}: code cells {dirty} have outputs or execution counts; clear them before committing "
        "(Jupyter: Edit > Clear Outputs of All Cells, then save)"
    )
