"""The package's layers: every import runs one way (a lower layer never imports a higher one), and no module circles."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "faceparse_lib"
# Lowest first; a module may import its own layer and those before it. `standalone` imports nothing of the kit.
LAYERS = ("standalone", "classes", "data", "models", "evaluation", "training", "visual", "report", "course", "bench", "cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    """The layer index of a faceparse_lib module (the package itself and its __main__ sit at the ends)."""
    parts = module.split(".")
    if len(parts) == 1:
        return LAYERS.index("classes")  # faceparse_lib/__init__.py: the class facts and the lazy-export helper
    if parts[1] == "__main__":
        return len(LAYERS)
    return LAYERS.index(parts[1])


def imported_modules(path: Path) -> set[str]:
    """Every faceparse_lib module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("faceparse_lib")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("faceparse_lib"):
            found.add(node.module)
            for alias in node.names:  # `from faceparse_lib.models import checkpoint` imports a module
                if (PACKAGE.parent / node.module.replace(".", "/") / f"{alias.name}.py").is_file():
                    found.add(f"{node.module}.{alias.name}")
    return found


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {name: imported_modules(path) for name, path in MODULES.items()}


def test_every_subpackage_is_a_known_layer():
    subpackages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert subpackages == set(LAYERS) - {"classes"}
    assert len([p for p in PACKAGE.iterdir() if not p.name.startswith((".", "__pycache__"))]) <= 13


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_from_higher_layers_to_lower_ones(module):
    backwards = sorted(m for m in GRAPH[module] if layer_of(m) > layer_of(module))
    assert not backwards, f"{module} (layer {LAYERS[min(layer_of(module), len(LAYERS) - 1)]}) imports {backwards}"


def third_party_imports(path: Path) -> set[str]:
    """The top-level names of what `path` imports absolutely (relative imports stay inside its package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level > 1:  # `from ..x`: outside the package
            found.add("faceparse_lib")
    return found


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("faceparse_lib.standalone")))
def test_standalone_needs_only_what_a_hand_in_installs(module):
    # A hand-in copies faceparse_lib/standalone beside its run.py: nothing else of the kit exists there.
    allowed = {"numpy", "torch", "PIL"} | set(__import__("sys").stdlib_module_names)
    found = third_party_imports(MODULES[module])
    assert found <= allowed, f"{module} imports {sorted(found - allowed)}"
    assert "faceparse_lib" not in found


def test_no_module_imports_itself_through_a_circle():
    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for nxt in GRAPH.get(start, ()):
            if nxt == target:
                return True
            if nxt in GRAPH and nxt not in seen:
                seen.add(nxt)
                if reaches(nxt, target, seen):
                    return True
        return False

    # A package's __init__ only names its modules lazily, so edges into a bare package name are not followed.
    circles = [m for m in GRAPH if reaches(m, m, set())]
    assert not circles, f"modules on an import circle: {circles}"


def test_the_walk_sees_a_backward_import(tmp_path):
    source = tmp_path / "bad.py"
    source.write_text("def f():\n    from faceparse_lib.training.loop import train\n")
    assert layer_of(next(iter(imported_modules(source)))) > layer_of("faceparse_lib.data.layout")


@pytest.mark.parametrize("package", sorted(set(LAYERS) - {"classes"}))
def test_no_public_name_is_also_a_module_name(package):
    # Once the module `package.X` is imported, Python sets the attribute X to the module, so a public name X
    # from another module would be shadowed by it.
    import importlib

    api = importlib.import_module(f"faceparse_lib.{package}")
    modules = {p.stem for p in (PACKAGE / package).glob("*.py")} | {p.name for p in (PACKAGE / package).iterdir() if p.is_dir()}
    public = set(getattr(api, "__all__", ()))  # bench and cli are modules of their own, not an API table
    assert not public & modules
    for name in public:  # and every name resolves
        getattr(api, name)
