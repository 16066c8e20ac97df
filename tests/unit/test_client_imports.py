"""What the client package pulls in: the SDK and the batch library stand on their own.

Each import runs in a fresh interpreter. click and rich are blocked there
(``sys.modules[name] = None``), as on a machine with only the SDK's
dependencies: httpx imports them for its own command line when they are
installed, and falls back when they are not, so only an import of ours fails.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "udb"
#: the service side, and the operator's command line
FORBIDDEN = ("udb.storage", "udb.service", "udb.api", "udb.soap", "udb.formats", "udb.cli")
ALLOWED = ("udb.client", "udb.contract", "udb.domain", "udb.wssecurity", "udb.ns", "udb.safexml")

_PROBE = """
import json, sys
for blocked in ("click", "rich"):
    sys.modules[blocked] = None
import {module}
print(json.dumps(sorted(name for name, m in sys.modules.items() if m is not None)))
"""


def modules_after(module: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=module)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert isinstance(loaded, list)
    return [str(name) for name in loaded]


def _under(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


@pytest.mark.parametrize("module", ["udb.client", "udb.client.batch"])
def test_the_sdk_and_the_batch_library_need_no_service_module_nor_click_nor_rich(
    module: str,
) -> None:
    loaded = modules_after(module)
    ours = [name for name in loaded if name == "udb" or name.startswith("udb.")]
    assert not [name for name in ours if _under(name, FORBIDDEN)]
    assert [name for name in ours if name != "udb" and not _under(name, ALLOWED)] == []
    assert not [name for name in ours if _under(name, ("udb.client.cli",))]
    assert not [name for name in loaded if _under(name, ("click", "rich"))]


def test_the_sdk_does_not_load_the_batch_library() -> None:
    loaded = modules_after("udb.client")
    assert not [name for name in loaded if _under(name, ("udb.client.batch", "udb.client.cli"))]


def _public_classes(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_")
    }


def test_the_public_types_of_the_batch_library_and_the_commands_have_names_of_their_own() -> None:
    """No public class of udb.client.batch or udb.client.cli shares its name in src/udb."""
    ours = [*(SRC / "client" / "batch").glob("*.py"), *(SRC / "client" / "cli").glob("*.py")]
    names: dict[str, list[str]] = {}
    for path in SRC.rglob("*.py"):
        for name in _public_classes(path):
            names.setdefault(name, []).append(str(path.relative_to(SRC)))
    shared = {
        name: where
        for path in ours
        for name in _public_classes(path)
        if len(where := names[name]) > 1
    }
    assert shared == {}
