"""The views stay views: an API module passes ids and validated data to a service function,
which loads, scopes, locks and checks (ARCHITECTURE.md, "A request's path").

Read from the source (AST), so it holds for a view no test calls: no ``app/**/api.py`` and
no ``app/api.py`` imports SQLAlchemy, asks for a row lock (``with_for_update``, a service's
``for_update=``), builds a scope clause (``household_scope``, ``evacuation_scope``, ...),
loads a record itself (``get_household``, ``get_person``, ``get_offer``, any ``lock_*``) or
hands what a loader (``get_*``, ``find_*``) returned to another call: the service it calls
loads within the actor's scope. The one early check a view makes is named in EARLY_CHECKS.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app.extensions import PROJECT_ROOT

APP = PROJECT_ROOT / "app"


def api_modules() -> list[Path]:
    return sorted({APP / "api.py", *APP.glob("**/api.py")})


#: Loaders a view may not call: the service function it calls loads (and locks) itself.
FORBIDDEN_LOADERS = ("get_household", "get_person", "get_offer")
#: The one check a view makes before its operation, and why: the photo upload answers 404
#: for no such offer before it reads a body of up to PHOTO_MAX_BYTES (``add_photo`` then
#: checks its actor, loads and locks the offer itself).
EARLY_CHECKS = {"housing/api.py": {"check_offer_before_upload"}}


def _is_scope_name(name: str) -> bool:
    return name.endswith("_scope")


def _called_name(call: ast.Call) -> str | None:
    """The name of the function a call calls (``f(...)``, ``module.f(...)``)."""
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _is_loader(name: str | None) -> bool:
    return name is not None and name.startswith(("get_", "find_"))


def _load_problems(tree: ast.AST) -> list[str]:
    """A view that loads a record itself, or passes a loader's result on to a service."""
    problems = []
    loaded = set()  # names bound to what a loader returned
    for node in ast.walk(tree):
        is_load = isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
        if is_load and _is_loader(_called_name(node.value)):
            loaded |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        line, name = node.lineno, _called_name(node)
        if name in FORBIDDEN_LOADERS or (name or "").startswith("lock_"):
            problems.append(f"line {line}: loads a record itself ({name})")
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            if isinstance(arg, ast.Call) and _is_loader(_called_name(arg)):
                problems.append(f"line {line}: passes what {_called_name(arg)} loaded to {name}")
            elif isinstance(arg, ast.Name) and arg.id in loaded:
                problems.append(f"line {line}: passes what a loader returned ({arg.id}) to {name}")
    return problems


def layering_problems(source: str) -> list[str]:
    """What in this module's source a view must leave to its service, one line each."""
    tree = ast.parse(source)
    problems = _load_problems(tree)
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sqlalchemy":
                    problems.append(f"line {line}: imports {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[0] == "sqlalchemy":
                problems.append(f"line {line}: imports from {node.module}")
            for alias in node.names:
                if _is_scope_name(alias.name):
                    problems.append(f"line {line}: imports the scope clause {alias.name}")
                elif alias.name in FORBIDDEN_LOADERS or alias.name.startswith("lock_"):
                    problems.append(f"line {line}: imports the loader {alias.name}")
        elif isinstance(node, ast.Attribute):
            if node.attr == "with_for_update":
                problems.append(f"line {line}: takes a row lock (with_for_update)")
            elif _is_scope_name(node.attr):
                problems.append(f"line {line}: builds a scope clause ({node.attr})")
        elif isinstance(node, ast.Name):
            if node.id == "with_for_update":
                problems.append(f"line {line}: takes a row lock (with_for_update)")
            elif _is_scope_name(node.id):
                problems.append(f"line {line}: builds a scope clause ({node.id})")
        elif isinstance(node, ast.keyword) and node.arg in ("for_update", "with_for_update"):
            problems.append(f"line {line}: asks for a row lock ({node.arg}=)")
    return problems


def test_every_api_module_is_checked():
    found = {path.relative_to(APP).as_posix() for path in api_modules()}

    assert "api.py" in found
    assert {"households/api.py", "evacuations/api.py", "housing/api.py"} <= found


@pytest.mark.parametrize(
    "path", api_modules(), ids=[p.relative_to(APP).as_posix() for p in api_modules()]
)
def test_an_api_module_leaves_loads_locks_and_scope_to_its_service(path: Path):
    problems = layering_problems(path.read_text(encoding="utf-8"))

    assert not problems, (
        f"app/{path.relative_to(APP).as_posix()} does what its service function must do "
        "(pass ids and validated data; the service loads, scopes, locks and checks): "
        + "; ".join(problems)
    )


@pytest.mark.parametrize(
    "source, found",
    [
        ("import sqlalchemy as sa\n", "imports sqlalchemy"),
        ("import sqlalchemy.orm\n", "imports sqlalchemy.orm"),
        ("from sqlalchemy import select\n", "imports from sqlalchemy"),
        ("from sqlalchemy.orm import selectinload\n", "imports from sqlalchemy.orm"),
        ("stmt = stmt.with_for_update()\n", "with_for_update"),
        ("service.update_household(actor, household_id, for_update=True)\n", "for_update="),
        ("from app.households.service import household_scope\n", "household_scope"),
        ("clause = service.evacuation_scope(actor)\n", "evacuation_scope"),
        ("clause = person_scope(actor)\n", "person_scope"),
        ("household = scope.get_household(actor, household_id)\n", "get_household"),
        ("child = get_person(actor, person_id)\n", "get_person"),
        ("service.get_offer(offer_id)\n", "get_offer"),
        ("service.lock_household(actor, household_id)\n", "lock_household"),
        ("lock_persons([person_id])\n", "lock_persons"),
        ("from app.households.scope import get_household\n", "get_household"),
        ("from app.households.scope import lock_persons\n", "lock_persons"),
        ("service.revoke_all_tokens(actor, service.get_user(user_id))\n", "get_user"),
        ("page(matching.matches_query(service.find_household(i)), order, args)\n", "find_"),
        ("user = service.get_user(user_id)\nservice.revoke_all_tokens(actor, user)\n", "user"),
    ],
)
def test_the_check_finds_what_it_forbids(source: str, found: str):
    """The rule is no accident of today's modules: each forbidden shape is caught."""
    problems = layering_problems(source)

    assert len(problems) == 1 and found in problems[0], problems


def test_the_check_lets_a_view_be_a_view():
    view = (
        "from app.households import service\n"
        "def patch(self, changes, household_id):\n"
        "    return service.update_household(current_actor(), household_id, changes,\n"
        "                                     precondition=check)\n"
    )

    assert layering_problems(view) == []


def test_a_view_may_answer_what_a_loader_returned():
    """Returning a read is no load handed on: ``return service.get_user(user_id)``."""
    view = "def get(self, user_id):\n    return service.get_user(user_id)\n"

    assert layering_problems(view) == []


def test_the_photo_upload_is_the_one_early_check():
    """Only the photo upload checks its offer before its operation (404 before a large
    body): a new early check is a decision, named in EARLY_CHECKS with its reason."""
    early = {}
    for path in api_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = isinstance(node, ast.Call) and _called_name(node)
            if name and name.startswith("check_") and "_before_" in name:
                early.setdefault(path.relative_to(APP).as_posix(), set()).add(name)

    assert early == EARLY_CHECKS
