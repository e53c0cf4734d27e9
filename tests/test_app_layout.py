"""The app map holds: data flows providers → callbacks → profiles, and modules stay small."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_MODULE_LINES = 400


def product_modules(*apps: str) -> list[Path]:
    """The apps' Python modules, migrations left out (they are generated history)."""
    return sorted(
        path
        for app in apps
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.relative_to(ROOT).parts
    )


def imported_packages(path: Path) -> set[str]:
    """The top-level packages `path` imports (relative imports stay in its own package)."""
    packages = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            packages.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            packages.add(node.module.split(".")[0])
    return packages


@pytest.mark.parametrize("path", product_modules("profiles", "common"), ids=str)
def test_profiles_and_common_import_nothing_from_callbacks_or_providers(path):
    """DESIGN.md: "`profiles` imports nothing from the other two"; the shared bulk SQL neither."""
    assert not imported_packages(path) & {"callbacks", "providers"}


def test_no_module_of_callbacks_profiles_or_common_is_over_400_lines():
    long = {
        str(path.relative_to(ROOT)): lines
        for path in product_modules("callbacks", "profiles", "common")
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
