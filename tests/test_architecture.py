"""The tree's dependency rules and the project's own red lines, checked on the source."""

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = {"api", "privacy", "schema", "etl"}
ALLOWED = {
    "privacy": set(),
    "schema": set(),
    "etl": {"schema"},
    "api": {"privacy", "schema", "etl"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_dependencies_point_one_way(package):
    for path in (ROOT / package).rglob("*.py"):
        used = (_imports(path) & OURS) - {package}
        assert used <= ALLOWED[package], f"{path.relative_to(ROOT)} imports {used}"


@pytest.mark.parametrize("package", sorted(OURS))
def test_top_level_modules_are_ours(package):
    module = importlib.import_module(package)
    assert Path(module.__file__).resolve().is_relative_to(ROOT / package)


def test_privacy_interface_has_no_web_or_sql_or_pandas():
    for path in (ROOT / "privacy").rglob("*.py"):
        assert not _imports(path) & {"fastapi", "sqlalchemy", "pandas", "strawberry"}, path


def test_noise_only_from_opendp_and_only_contrib():
    serving = [p for pkg in ("privacy", "api", "schema") for p in (ROOT / pkg).rglob("*.py")]
    for path in serving:
        source = path.read_text("utf-8")
        assert "random" not in _imports(path), path
        assert not re.search(r"\bnp\.random\b|numpy\.random", source), path
        for call in re.findall(r"enable_features\(([^)]*)\)", source):
            assert call.strip() == '"contrib"', path


@pytest.mark.parametrize(
    "names",
    [("PersonContribution", "person_contributions"), ("LoadedCaseRef", "loaded_case_refs")],
)
def test_only_the_loader_touches_the_pseudonymous_tables(names):
    allowed = {
        ROOT / "schema" / "models.py",
        ROOT / "schema" / "repositories" / "loads.py",
    }
    for package in ("api", "privacy", "schema", "etl"):
        for path in (ROOT / package).rglob("*.py"):
            if path in allowed or "migrations" in path.parts:
                continue
            source = path.read_text("utf-8")
            assert not any(name in source for name in names), path


SQL_CALLS = {"execute", "scalars", "scalar", "add", "add_all", "flush", "delete", "get", "merge"}
SQL_BUILDERS = {"select", "insert", "update", "delete", "exists", "text"}
# The session dependency and the CLI's transaction end transactions; nothing else in api/ does.
# where a request or a staff command ends, and how both end a refused one (``settle``)
COMMITS_ALLOWED = {
    ROOT / "api" / "deps.py",
    ROOT / "api" / "cli" / "staff.py",
    ROOT / "api" / "transactions.py",
}


def test_sql_lives_in_the_repositories():
    """No SQL in api/: statements are built and run in schema/repositories, and transactions
    are ended only where a request or a staff command ends."""
    found = []
    for path in (ROOT / "api").rglob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
                builders = {a.name for a in node.names} & SQL_BUILDERS
                if builders:
                    found.append(f"{path.relative_to(ROOT)} imports {sorted(builders)}")
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            on_session = isinstance(owner, ast.Name) and owner.id in ("session", "s", "sess")
            if on_session and node.func.attr in SQL_CALLS:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {owner.id}.{node.func.attr}")
            if on_session and node.func.attr == "commit" and path not in COMMITS_ALLOWED:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} commits")
    assert not found, "\n".join(found)
