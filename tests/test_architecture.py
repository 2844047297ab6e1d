"""The architecture, checked: dependencies point one way, no import cycles, one place for settings.

Pure Python over the source (``ast``), no database: the whole file runs in well under a second. docs/architecture.md
explains the layers; this file is what holds the code to them.

- Layers, lowest first: amarktai -> accounts -> realtime -> trading -> market -> wallets -> bots -> chat -> control
  -> notifications. A module may import its own app and the apps below it, never one above, and "import" means every
  import statement wherever it stands (module level, inside a function, under ``if TYPE_CHECKING:``) plus the dynamic
  ways to reach a module by name (``import_module``, ``import_string``, ``__import__``, ``apps.get_model``, Celery's
  ``send_task``) when the name is a string literal.
- No import cycles between modules, counting function-level imports too: an import moved into a function to dodge a
  circular import at load time is still a cycle in the design.
- Every environment variable the settings read is in the README's table, and no app code reads a setting with a
  fallback default (``getattr(settings, "X", default)``): each setting is declared once, in amarktai/settings/.
"""

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A new app goes in at its height (docs/architecture.md says where).
LAYERS = [
    "amarktai",
    "accounts",
    "realtime",
    "trading",
    "market",
    "wallets",
    "mirror",
    "bots",
    "research",
    "ranking",
    "chat",
    "control",
    "notifications",
]
LAYER = {app: height for height, app in enumerate(LAYERS)}

# The composition root: the modules that wire every app together (URL routing, the ASGI application, the Celery app,
# the portal's page list). They sit in amarktai/ because Django wants them there, but they are the top of the graph, not
# the bottom, so they may import any app. Keep this list this short: anything else in amarktai/ is core.
COMPOSITION_ROOT = {
    "amarktai/urls.py",
    "amarktai/asgi.py",
    "amarktai/celery.py",
    "amarktai/portal.py",
}

# Calls that reach a module or model by name. The first argument, when it is a string literal, is a dependency.
DYNAMIC_IMPORTS = {"import_module", "import_string", "__import__"}
DYNAMIC_REFERENCES = {"get_model", "send_task"}


def source_files():
    """Every .py file of the apps, without migrations and tests (repo-relative paths)."""
    files = []
    for app in LAYERS:
        for path in sorted((ROOT / app).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if "migrations" in parts or "tests" in parts or parts[-1].startswith("test_"):
                continue
            files.append(path)
    return files


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path):
    return path.name == "__init__.py"


def resolve_relative(module, package, level, name):
    """The absolute module named by ``from <.level><name> import ...`` inside ``module``."""
    base = module.split(".") if package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def literal(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def call_name(node):
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def imports_of(path):
    """(line, imported module, how, candidates) for every import in the file, at any depth.

    ``candidates`` are the modules the statement may name, most specific first: ``from a.b import c`` names ``a.b.c``
    when that is a module, else ``a.b``.
    """
    module = module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((node.lineno, alias.name, "import", [alias.name]))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = resolve_relative(module, is_package(path), node.level, node.module)
            candidates = [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
            found.append((node.lineno, base, "from", [*candidates, base]))
        elif isinstance(node, ast.Call) and node.args:
            name = call_name(node)
            target = literal(node.args[0])
            if target is None or name not in DYNAMIC_IMPORTS | DYNAMIC_REFERENCES:
                continue
            if name == "get_model" and "." not in target:
                target = f"{target}.models"  # apps.get_model("bots", "Bot")
            elif name == "get_model":
                target = f"{target.split('.')[0]}.models"  # apps.get_model("bots.Bot")
            found.append((node.lineno, target, name, [target] if name in DYNAMIC_IMPORTS else []))
    return found


def relative(path):
    return path.relative_to(ROOT).as_posix()


def test_no_upward_imports():
    """No module imports an app above its own layer."""
    violations = []
    for path in source_files():
        rel = relative(path)
        if rel in COMPOSITION_ROOT:
            continue
        own = rel.split("/")[0]
        for line, target, how, _ in imports_of(path):
            top = target.split(".")[0]
            if top in LAYER and LAYER[top] > LAYER[own]:
                violations.append(f"{rel}:{line}: {own} (layer {LAYER[own]}) -> {target} (layer {LAYER[top]}) [{how}]")
    assert not violations, (
        f"{len(violations)} upward import(s); layers, lowest first: {' -> '.join(LAYERS)} "
        "(docs/architecture.md):\n" + "\n".join(violations)
    )


def test_every_app_has_a_layer():
    """A new app gets a height in LAYERS (else none of these rules would look at it)."""
    from django.conf import settings

    local = {entry.split(".")[0] for entry in settings.INSTALLED_APPS if (ROOT / entry.split(".")[0]).is_dir()}
    missing = sorted(local - set(LAYERS))
    assert not missing, f"apps without a layer (add them to LAYERS in {relative(Path(__file__))}): {missing}"


def import_graph():
    """Module -> {(imported module, file:line)} over the apps' modules (every import, at any depth)."""
    files = {module_name(path): path for path in source_files()}
    graph = defaultdict(set)
    for module, path in files.items():
        for line, _, _, candidates in imports_of(path):
            for candidate in candidates:
                if candidate in files:
                    if candidate != module:
                        graph[module].add((candidate, f"{relative(path)}:{line}"))
                    break
    return files, graph


def strongly_connected(nodes, edges):
    """Tarjan's algorithm, iterative (no recursion limit)."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def test_no_import_cycles():
    """No two modules of the apps import each other, directly or through others (function-level imports count)."""
    files, graph = import_graph()
    edges = {module: {target for target, _ in targets} for module, targets in graph.items()}
    cycles = [sorted(c) for c in strongly_connected(files, edges) if len(c) > 1]
    report = []
    for component in sorted(cycles):
        members = set(component)
        report.append("cycle: " + ", ".join(component))
        for module in component:
            for target, where in sorted(graph[module]):
                if target in members:
                    report.append(f"    {where}: {module} -> {target}")
    assert not cycles, f"{len(cycles)} import cycle(s):\n" + "\n".join(report)


README_FIRST_CELL = re.compile(r"^\|([^|\n]*)\|", re.MULTILINE)
VARIABLE = re.compile(r"`([A-Z_][A-Z0-9_]*)`")


def readme_variables(text):
    """The variables named in the first cell of the README's table rows (a row may name several, comma separated)."""
    return {name for cell in README_FIRST_CELL.findall(text) for name in VARIABLE.findall(cell)}


def test_every_environment_variable_is_documented():
    """Each variable the settings read (``amarktai.settings.env.DECLARED``) has a row in the README's table."""
    from django.conf import settings

    assert settings.INSTALLED_APPS  # reading a setting loads the settings modules, which fills DECLARED
    from amarktai.settings.env import DECLARED

    assert DECLARED, "amarktai.settings.env.DECLARED is empty: are the settings reading the environment through env()?"
    documented = readme_variables((ROOT / "README.md").read_text(encoding="utf-8"))
    missing = [f"    {name} (default {DECLARED[name]!r})" for name in sorted(set(DECLARED) - documented)]
    assert not missing, (
        "environment variables read by the settings but missing from README.md's table "
        '(add a row "| `NAME` | meaning | default |"):\n' + "\n".join(missing)
    )


def is_settings(node):
    return (isinstance(node, ast.Name) and node.id == "settings") or (
        isinstance(node, ast.Attribute) and node.attr == "settings"
    )


def test_no_setting_read_with_a_fallback():
    """``getattr(settings, "X", default)`` hides a setting that is not declared: declare it in amarktai/settings/."""
    found = []
    for path in source_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "getattr"
                and len(node.args) + len(node.keywords) >= 3
                and is_settings(node.args[0])
            ):
                name = literal(node.args[1]) if len(node.args) > 1 else None
                found.append(f"{relative(path)}:{node.lineno}: getattr(settings, {name or '...'!r}, ...)")
    assert not found, "settings read with a fallback default (declare them once in amarktai/settings/):\n" + "\n".join(
        found
    )


def test_every_user_owned_model_is_scoped_by_construction():
    """A model with a ``user`` foreign key gets its manager from OwnedQuerySet,
    so ``owned_by(user)`` is always there."""
    from django.apps import apps

    from amarktai.tenancy import OwnedQuerySet

    unscoped = [
        f"{model._meta.label}"
        for model in apps.get_models()
        if model._meta.app_label in LAYERS
        and any(field.name == "user" and field.is_relation for field in model._meta.fields)
        and not isinstance(model._default_manager.all(), OwnedQuerySet)
    ]
    assert not unscoped, f"user-owned models without OwnedQuerySet managers: {unscoped}"


def test_views_run_no_queries_of_their_own():
    """Views validate, call a selector or a service, and shape the answer: no ``Model.objects`` in a views module."""
    offenders = []
    for path in source_files():
        if not path.name.startswith("views"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "objects":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, "views that query the database themselves:\n" + "\n".join(offenders)
