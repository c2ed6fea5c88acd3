"""Dependency direction: bot -> adapters -> engine. The engine imports no platform SDK
and nothing from bot/ or adapters/; adapters never import bot/ or each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_SDKS = {"discord", "slack_bolt", "slack_sdk"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("path", sources("engine"), ids=lambda p: str(p.relative_to(ROOT)))
def test_engine_imports_no_platform_sdk_nor_upper_layers(path):
    bad = {m for m in imported_modules(path) if top(m) in PLATFORM_SDKS | {"bot", "adapters"}}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", sources("adapters"), ids=lambda p: str(p.relative_to(ROOT)))
def test_adapters_import_neither_bot_nor_each_other(path):
    rel = path.relative_to(ROOT / "adapters")
    own = rel.parts[0] if len(rel.parts) > 1 else None  # "discord", "slack", "http", or a shared module
    imports = imported_modules(path)
    assert not {m for m in imports if top(m) == "bot"}, f"{rel} imports bot/"
    for other in ("discord", "slack", "http"):
        if other != own:
            assert not any(m.startswith(f"adapters.{other}") for m in imports), (
                f"{rel} imports adapters.{other}"
            )
    sdk = {m for m in imports if top(m) in PLATFORM_SDKS}
    if own is None:
        assert not sdk, f"shared adapter module {rel} imports {sorted(sdk)}"


def test_the_checker_sees_imports(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("import discord\nfrom slack_sdk.web import WebClient\nfrom . import local\n")
    assert imported_modules(sample) == {"discord", "slack_sdk.web"}
