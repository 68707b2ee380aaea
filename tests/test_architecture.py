"""The layers contract (pyproject.toml, checked by `lint-imports`) names every part of `im2/`.

import-linter checks only the modules a contract names: a new domain left out of the layers
would be free to import anything. These tests make leaving it out a failure that says which
folder to place (docs/architecture.md, "Layers").
"""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "im2"
LAYERS_TYPE = "layers"


def contract_layers() -> list[str]:
    """The layers of the one layers contract in pyproject.toml, top first."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    found = [c for c in contracts if c["type"] == LAYERS_TYPE]
    assert len(found) == 1, f"expected one layers contract in pyproject.toml, found {len(found)}"
    layers: list[str] = found[0]["layers"]
    return layers


def named_in_layers(layers: list[str]) -> dict[str, bool]:
    """Module name -> whether it is optional (a planned layer, in parentheses)."""
    names: dict[str, bool] = {}
    for layer in layers:
        for part in layer.replace("|", ":").split(":"):
            name = part.strip()
            optional = name.startswith("(") and name.endswith(")")
            names[name.strip("()")] = optional
    return names


def parts_of_im2(package: Path = PACKAGE) -> set[str]:
    """Every folder holding Python code and every module directly under im2/. A folder counts
    without an __init__.py too: Python imports it as a namespace package, and a domain
    left out of the contract that way would be as free to import anything."""
    packages = {
        f"im2.{p.name}"
        for p in package.iterdir()
        if p.is_dir() and p.name != "__pycache__" and next(p.rglob("*.py"), None) is not None
    }
    modules = {f"im2.{p.stem}" for p in package.glob("*.py") if p.stem != "__init__"}
    return packages | modules


def test_every_package_and_module_of_im2_is_in_the_layers_contract() -> None:
    # given the packages and modules under im2/ and the layers contract
    named = named_in_layers(contract_layers())
    # then each of them has its place in the layers
    missing = sorted(parts_of_im2() - set(named))
    assert not missing, (
        f"not in the layers contract of pyproject.toml: {', '.join(missing)}. Add each where it "
        "belongs: below everything it imports, above everything that imports it "
        "(docs/architecture.md, Layers)."
    )


def test_the_layers_contract_names_only_what_exists_or_is_planned() -> None:
    named = named_in_layers(contract_layers())
    required = {name for name, optional in named.items() if not optional}
    gone = sorted(required - parts_of_im2())
    assert not gone, f"the layers contract names what is not in im2/: {', '.join(gone)}"


def test_a_folder_without_its_layer_is_named_by_the_check() -> None:
    # given a contract that leaves out one domain
    layers = [layer for layer in contract_layers() if layer != "im2.sharing"]
    # when the check compares it with im2/
    missing = parts_of_im2() - set(named_in_layers(layers))
    # then that domain is the one reported
    assert missing == {"im2.sharing"}


def test_a_new_folder_of_code_counts_with_or_without_init(tmp_path: Path) -> None:
    # given a package with a domain folder, a folder of Python code without __init__.py, and
    # folders without code (templates, locale)
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "loyalty" / "rules").mkdir(parents=True)
    (tmp_path / "loyalty" / "rules" / "service.py").write_text("", encoding="utf-8")
    (tmp_path / "locale").mkdir()
    (tmp_path / "locale" / "messages.po").write_text("", encoding="utf-8")
    (tmp_path / "config.py").write_text("", encoding="utf-8")
    # then the check sees both folders of code and the module, and nothing else
    assert parts_of_im2(tmp_path) == {"im2.shop", "im2.loyalty", "im2.config"}


def included_routers(routes: list[Any]) -> set[int]:
    """The ids of every router the app includes, at any depth."""
    found: set[int] = set()
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            found.add(id(inner))
            found |= included_routers(inner.routes)
    return found


def test_the_app_serves_every_router_of_every_domain(app: FastAPI) -> None:
    # given every `router` of a route module under im2/ (api.py, pages.py, public.py)
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for name in ("api", "pages", "public")
        for path in PACKAGE.rglob(f"{name}.py")
    )
    # when the app is assembled (the `app` fixture: im2.app.create_app)
    served = included_routers(app.routes)
    # then each of them is included (by name, in im2/app.py, or by its domain's router)
    missing = [
        module
        for module in modules
        if isinstance(getattr(importlib.import_module(module), "router", None), APIRouter)
        and id(importlib.import_module(module).router) not in served
    ]
    assert not missing, f"routers not in the app (add them to im2/app.py): {', '.join(missing)}"
