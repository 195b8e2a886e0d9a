"""`LLMProgram`: a validated, immutable program, and the graph of programs it links to.

    program = LLMProgram.from_toml("examples/features/program-linking/main.toml")
    process = await program.start()

Linked programs load recursively; a program that links to itself, or two that link to each
other, is legitimate (a process may spawn a copy of itself), so each file loads once per graph
and links point at the shared `LLMProgram` object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from llmproc.config.loader import ResolvedProgram, resolve, resolve_file
from llmproc.config.schema import ProgramConfig
from llmproc.errors import ProgramConfigError

if TYPE_CHECKING:
    from llmproc.process import LLMProcess
    from llmproc.prompt import EnrichedPrompt


@dataclass(frozen=True, eq=False)
class LinkedProgram:
    name: str
    description: str
    program: LLMProgram


class LLMProgram:
    """A program as loaded and checked. Build with `from_toml` or `from_dict`."""

    __slots__ = ("_resolved", "_links")

    def __init__(self, resolved: ResolvedProgram):
        self._resolved = resolved
        self._links: dict[str, LinkedProgram] = {}

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_toml(cls, path: str | Path, *, load_env: bool = True) -> LLMProgram:
        """Load a program file and, recursively, every program it links to.

        `.env` files next to the program and in the working directory are read (existing
        environment variables win), so API keys can live there.
        """
        path = Path(path).expanduser().resolve()
        if load_env:
            _load_dotenv(path.parent)
        return _Graph().load(path)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base_dir: str | Path | None = None) -> LLMProgram:
        """Build a program in code. Linked programs may be paths (relative to `base_dir`, default
        the working directory), `LLMProgram` objects, or `{"program": obj, "description": ...}`."""
        data = dict(data)
        objects: dict[str, tuple[LLMProgram, str]] = {}
        links = dict(data.get("linked_programs") or {})
        for name, value in list(links.items()):
            if isinstance(value, LLMProgram):
                objects[name] = (value, "")
                del links[name]
            elif isinstance(value, Mapping) and isinstance(value.get("program"), LLMProgram):
                objects[name] = (value["program"], str(value.get("description", "")))
                del links[name]
        if "linked_programs" in data:
            data["linked_programs"] = links
        base = Path(base_dir).resolve() if base_dir else Path.cwd()
        program = cls(resolve(data, path=None, base_dir=base))
        graph = _Graph()
        for link in program._resolved.links:
            program._links[link.name] = LinkedProgram(link.name, link.description, graph.load(link.path))
        for name, (obj, description) in objects.items():
            program._links[name] = LinkedProgram(name, description, obj)
        return program

    # -- what the program says -----------------------------------------------------------------
    @property
    def config(self) -> ProgramConfig:
        return self._resolved.config

    @property
    def path(self) -> Path | None:
        return self._resolved.path

    @property
    def base_dir(self) -> Path:
        return self._resolved.base_dir

    @property
    def name(self) -> str:
        return self.path.stem if self.path else "program"

    @property
    def model_name(self) -> str:
        return self.config.model.name

    @property
    def provider(self) -> str:
        return self.config.model.provider

    @property
    def display_name(self) -> str:
        return self.config.model.display_name or self.config.demo.display_name or self.model_name

    @property
    def system_prompt(self) -> str:
        """The system prompt as written (file contents read); see `enriched_system_prompt`."""
        return self._resolved.system_prompt

    @property
    def source_hash(self) -> str:
        """sha256 of the program file (or of the dict), to detect changes since a save."""
        return self._resolved.source_hash

    @property
    def preload_files(self) -> tuple[Path, ...]:
        return self._resolved.preload_files

    @property
    def allowed_roots(self) -> tuple[Path, ...]:
        """Roots for file tools as configured; empty means "the working directory"."""
        return self._resolved.allowed_roots

    @property
    def mcp_config_path(self) -> Path | None:
        return self._resolved.mcp_config_path

    @property
    def linked_programs(self) -> Mapping[str, LinkedProgram]:
        return MappingProxyType(self._links)

    def enriched_system_prompt(self, *, include_env: bool = True) -> EnrichedPrompt:
        from llmproc.prompt import build_system_prompt

        return build_system_prompt(self, include_env=include_env)

    # -- running ---------------------------------------------------------------------------------
    async def start(self, **options: Any) -> LLMProcess:
        """Create a process running this program (provider client built, tools ready)."""
        from llmproc.process import LLMProcess

        return await LLMProcess.create(self, **options)

    async def restore(self, state: dict[str, Any], **options: Any) -> LLMProcess:
        """Continue a saved process state with this program (see `LLMProcess.restore`)."""
        from llmproc.store.state import restore

        return await restore(state, program=self, **options)

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "<dict>"
        return f"LLMProgram({where}, model={self.provider}:{self.model_name})"


class _Graph:
    """Loads each program file once, so cycles of links terminate."""

    def __init__(self) -> None:
        self._seen: dict[Path, LLMProgram] = {}

    def load(self, path: Path) -> LLMProgram:
        path = path.resolve()
        if path in self._seen:
            return self._seen[path]
        program = LLMProgram(resolve_file(path))
        self._seen[path] = program  # before following links: a cycle finds this entry
        for link in program._resolved.links:
            try:
                target = self.load(link.path)
            except ProgramConfigError as exc:
                if exc.path is None:
                    raise ProgramConfigError(exc.detail, path=path, key=f"linked_programs.{link.name}") from None
                raise
            program._links[link.name] = LinkedProgram(link.name, link.description, target)
        return program


def _load_dotenv(program_dir: Path) -> None:
    from dotenv import load_dotenv

    for folder in dict.fromkeys([program_dir, Path.cwd()]):
        env_file = folder / ".env"
        if env_file.is_file():
            load_dotenv(env_file, override=False)
