"""Imports point down the layers listed in docs/architecture.md ("## Layers"): every import of
both packages, parsed with `ast`, at module level, under TYPE_CHECKING or inside a function,
goes to the importing module's layer or one below it. The imports that point up on purpose are
in EXCEPTIONS, each with its reason; an exception that no longer happens fails too, so the list
stays true."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"llmproc": ROOT / "core" / "llmproc", "llmproc_mcp": ROOT / "llmproc_mcp"}

# (importing module, imported module) -> why it may point up.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("llmproc.program", "llmproc.process"): "LLMProgram.start() builds the program's process: the documented "
                                            "entry point (`await program.start()`), imported on use",
    ("llmproc.program", "llmproc.store.state"): "LLMProgram.restore() restores a process of this program, "
                                                "imported on use (the same as LLMProcess.restore)",
    ("llmproc.process.state", "llmproc"): "`__version__` is written into each saved state; the package root "
                                          "imports nothing else at run time (its exports load on use)",
}


def layers() -> list[list[str]]:
    """The numbered list under "## Layers" in docs/architecture.md: the module prefixes of each."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    found = [re.findall(r"`([a-z_][a-z_.]*)`", line.split(":", 1)[0])
             for line in section.splitlines() if re.match(r"^\d+\. ", line)]
    assert found, "docs/architecture.md has no numbered list under ## Layers"
    return found


def layer_of(module: str, table: list[list[str]]) -> int:
    """The layer of the longest listed prefix naming `module` (`llmproc` names only the root)."""
    best, best_len = None, -1
    for index, prefixes in enumerate(table):
        for prefix in prefixes:
            exact_only = "." not in prefix and prefix == "llmproc"
            hit = module == prefix or (not exact_only and module.startswith(prefix + "."))
            if hit and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    assert best is not None, f"{module} is in no layer of docs/architecture.md"
    return best


def module_name(path: Path, package: str, base: Path) -> str:
    parts = [package, *path.relative_to(base).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> list[tuple[str, str, int]]:
    """(importer, imported, line) for every import of a package module by a package module."""
    found = []
    for package, base in PACKAGES.items():
        for path in sorted(base.rglob("*.py")):
            importer = module_name(path, package, base)
            is_package = path.name == "__init__.py"
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    targets = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    if node.level:  # relative: resolve against the importer's package
                        anchor = importer.split(".")
                        anchor = anchor if is_package else anchor[:-1]
                        anchor = anchor[:len(anchor) - node.level + 1]
                        base_name = ".".join(anchor + ([node.module] if node.module else []))
                    else:
                        base_name = node.module or ""
                    # `from pkg import sub` imports the submodule `pkg.sub` when there is one
                    targets = [_submodule(base_name, alias.name) for alias in node.names]
                else:
                    continue
                found += [(importer, t, node.lineno) for t in targets if t.split(".")[0] in PACKAGES]
    return found


def _submodule(base: str, name: str) -> str:
    top, *rest = base.split(".")
    if top not in PACKAGES:
        return base
    folder = PACKAGES[top].joinpath(*rest, name)
    return f"{base}.{name}" if folder.with_suffix(".py").is_file() or (folder / "__init__.py").is_file() else base


def violations() -> dict[tuple[str, str], list[int]]:
    table = layers()
    bad: dict[tuple[str, str], list[int]] = {}
    for importer, imported, line in imports():
        if layer_of(imported, table) > layer_of(importer, table):
            bad.setdefault((importer, imported), []).append(line)
    return bad


def test_every_package_module_has_a_layer() -> None:
    table = layers()
    for importer, imported, _ in imports():
        layer_of(importer, table), layer_of(imported, table)


def test_imports_point_down_the_layers() -> None:
    found = violations()
    unexpected = {pair: lines for pair, lines in found.items() if pair not in EXCEPTIONS}
    assert not unexpected, "imports pointing up the layers of docs/architecture.md:\n" + "\n".join(
        f"  {a} -> {b} (line {', '.join(map(str, lines))})" for (a, b), lines in sorted(unexpected.items()))
    stale = sorted(set(EXCEPTIONS) - set(found))
    assert not stale, f"EXCEPTIONS lists imports that no longer happen: {stale}"


def test_no_engine_module_imports_the_test_kit() -> None:
    table = layers()
    kit = layer_of("llmproc.testing", table)
    engine = [(a, b) for a, b, _ in imports() if b.startswith("llmproc.testing") and layer_of(a, table) < kit]
    assert not engine


def test_the_check_sees_an_upward_import() -> None:
    table = layers()
    assert layer_of("llmproc.providers.base", table) < layer_of("llmproc.tools.base", table) \
        < layer_of("llmproc.providers.anthropic_messages", table) < layer_of("llmproc.process.loop", table)
    assert layer_of("llmproc", table) > layer_of("llmproc.cli.main", table)  # the root is not a prefix
    assert ("llmproc.program", "llmproc.process") in violations()  # a known, listed one is found
