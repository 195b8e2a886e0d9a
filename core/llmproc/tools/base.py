"""What a tool is: a name, a description, a JSON Schema, and an async `call`.

`Tool` is the one interface every tool source implements (builtin functions, MCP servers,
linked programs). `tool()` builds a `FunctionTool` from a typed Python function: its argument
schema is derived from the signature (see `llmproc.tools.schema`), never written by hand.

A tool's `call` may raise (`ToolError` for problems the model should hear about); turning
failures into error results is `Toolset.call`'s job, so tools stay simple.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, overload, runtime_checkable

import anyio.to_thread
import pydantic_core

from llmproc.errors import ToolError
from llmproc.messages import ImageData
from llmproc.providers.base import ToolSpec
from llmproc.tools.schema import FunctionSchema, function_schema

if TYPE_CHECKING:
    from llmproc.fd.manager import FDTable

# What Anthropic, OpenAI and Gemini all accept as a function name.
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """The result of one tool call, as the model will read it (images follow the text)."""

    content: str
    is_error: bool = False
    images: tuple[ImageData, ...] = ()
    # Already bounded (a page of an fd, see `read_fd`): the engine shows it as is and never
    # stores it as a new fd, which would only send the model back to read it in circles.
    bounded: bool = False


# progress(progress, total, message): how a running tool reports how far it got. The engine sets
# one per tool call (a context variable, so concurrent calls each have their own).
ProgressReporter = Callable[[float, "float | None", "str | None"], None]
_progress: contextvars.ContextVar[ProgressReporter | None] = contextvars.ContextVar("llmproc_tool_progress",
                                                                                   default=None)


@contextmanager
def reporting_progress(reporter: ProgressReporter) -> Iterator[None]:
    """Within the block (one tool call), `current_progress_reporter()` returns `reporter`."""
    token = _progress.set(reporter)
    try:
        yield
    finally:
        _progress.reset(token)


def current_progress_reporter() -> ProgressReporter | None:
    """The progress reporter of the tool call being run, if the caller listens for progress."""
    return _progress.get()


@runtime_checkable
class ToolContext(Protocol):
    """What a tool may know about the process calling it. The engine's context grows (fd table,
    spawn, ...); tools ask only for what they use."""

    # Read-only properties, so plain attributes, properties and frozen dataclasses all fit.
    @property
    def allowed_roots(self) -> Sequence[Path]:
        """Directories file tools may touch: absolute and resolved."""
        ...

    @property
    def cwd(self) -> Path:
        """Where relative paths start."""
        ...


@dataclass
class SimpleToolContext:
    """A concrete context for tests and simple use. Paths are made absolute and resolved;
    no `allowed_roots` means "the working directory only"."""

    allowed_roots: Sequence[Path] = ()
    cwd: Path = field(default_factory=Path.cwd)
    fd_table: FDTable | None = None  # the process's file descriptors (read_fd, fd_to_file)

    def __post_init__(self) -> None:
        self.cwd = Path(self.cwd).resolve()
        self.allowed_roots = tuple(Path(root).resolve() for root in (self.allowed_roots or [self.cwd]))


def check_tool_name(name: str) -> str:
    """Return `name` if every provider accepts it as a tool name; raise ValueError otherwise."""
    if not _TOOL_NAME.match(name):
        raise ValueError(f"invalid tool name {name!r}: use 1-64 letters, digits, '_' or '-'")
    return name


class Tool:
    """Base class of every tool. Subclasses implement `call`."""

    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema of the arguments (an object schema)
    # Safe to run again when a crash cut a call off: it only reads, or repeating it changes
    # nothing (see `restore(rerun_read_only=True)`).
    read_only: bool = False

    def __init__(self, name: str, description: str, parameters: dict[str, Any]):
        self.name = name
        self.description = description
        self.parameters = parameters

    async def call(self, args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
        raise NotImplementedError

    def spec(self) -> ToolSpec:
        return ToolSpec(name=self.name, description=self.description, parameters=self.parameters)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class FunctionTool(Tool):
    """A tool backed by a typed Python function (sync functions run in a worker thread)."""

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None, description: str | None = None,
                 read_only: bool = False):
        fs = function_schema(fn, is_context=_is_context_annotation)
        super().__init__(
            check_tool_name(name or getattr(fn, "__name__", "") or type(fn).__name__),
            description if description is not None else fs.description,
            fs.parameters,
        )
        self.fn = fn
        self.read_only = read_only
        self._schema: FunctionSchema = fs
        self._is_async = inspect.iscoroutinefunction(inspect.unwrap(fn))

    async def call(self, args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
        kwargs = self._schema.validate(self.name, args)
        for param in self._schema.context_params:
            kwargs[param] = ctx
        if self._is_async:
            result = await self.fn(**kwargs)
        else:
            # Abandon (not wait for) the thread on cancellation so that cancelling a turn is
            # prompt; the thread finishes on its own and its result is dropped.
            result = await anyio.to_thread.run_sync(functools.partial(self.fn, **kwargs),
                                                    abandon_on_cancel=True)
            if inspect.isawaitable(result):  # a sync wrapper around an async function
                result = await result
        return to_output(result)


def to_output(result: Any) -> ToolOutput:
    """Turn what a tool function returned into text for the model."""
    if isinstance(result, ToolOutput):
        return result
    if isinstance(result, str):
        return ToolOutput(result)
    if result is None:
        return ToolOutput("(no output)")
    try:
        return ToolOutput(pydantic_core.to_json(result).decode())
    except pydantic_core.PydanticSerializationError:
        return ToolOutput(str(result))


def _is_context_annotation(annotation: Any) -> bool:
    # Any protocol or class deriving from ToolContext (or our concrete context) is injected.
    if annotation is ToolContext or annotation is SimpleToolContext:
        return True
    mro = getattr(annotation, "__mro__", ())
    return ToolContext in mro or SimpleToolContext in mro


ToolFunction = Callable[..., Any]  # sync or async


@overload
def tool(fn: ToolFunction, *, name: str | None = None, description: str | None = None,
         read_only: bool = False) -> FunctionTool: ...
@overload
def tool(
    fn: None = None, *, name: str | None = None, description: str | None = None, read_only: bool = False
) -> Callable[[ToolFunction], FunctionTool]: ...


def tool(
    fn: ToolFunction | None = None, *, name: str | None = None, description: str | None = None,
    read_only: bool = False,
) -> FunctionTool | Callable[[ToolFunction], FunctionTool]:
    """Build a Tool from a typed function: `@tool`, `@tool(name=...)` or `tool(fn, ...)`.

    The description defaults to the docstring's first paragraph; argument descriptions come
    from its "Args:" section or from `Annotated[..., Field(description=...)]`. A parameter
    typed as `ToolContext` (or named `ctx`) receives the caller's context and is not shown
    to the model. `read_only=True`: see `Tool.read_only`.
    """
    if fn is None:
        return lambda f: FunctionTool(f, name=name, description=description, read_only=read_only)
    return FunctionTool(fn, name=name, description=description, read_only=read_only)


__all__ = [
    "FunctionTool",
    "ProgressReporter",
    "SimpleToolContext",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolOutput",
    "check_tool_name",
    "current_progress_reporter",
    "reporting_progress",
    "to_output",
    "tool",
]
