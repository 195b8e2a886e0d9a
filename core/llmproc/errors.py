"""The exceptions llmproc raises, all under one root.

    LLMProcError
    ├── ProgramConfigError   a program file (or dict) is invalid: names the file and the dotted key
    ├── ProviderError        a model API call failed: provider, status, retryable, request id
    │   └── MissingCredentialsError   no API key: names the environment variable to set
    ├── ProviderNotInstalled the SDK of a provider is missing: names the extra to install
    ├── ToolError            a tool could not run (the turn loop turns it into an error result)
    │   └── ChildLimitReached     a spawn/fork was refused by a [limits] cap on children (`limit` says which)
    ├── DuplicateToolError   two tools would be shown under one name; also a ValueError
    ├── MCPServerError       an MCP server did not start: names the server, its command, its stderr tail
    ├── FDError              a file descriptor operation failed
    ├── BudgetExceeded       a limit (turns, cost, time, depth, children) was reached
    ├── StateError           a saved process state cannot be restored (schema version, malformed)
    │   └── ProgramChangedError   its program file changed since the save: names the file and `--force`
    └── StoreError           the process store failed (cannot open, locked, not a store file)
        ├── NotFoundError         no saved process (or record) of that name; also a KeyError
        └── DamagedStoreError     the store's file is damaged (not a database, malformed, truncated)

Every message says what to do next: which key, which variable, which path.

Cancellation is not in the tree: cancelling the task that awaits `run()` raises the event loop's
own cancellation (`asyncio.CancelledError`, anyio's cancel scopes), which must propagate for
structured concurrency to work; the history stays consistent all the same. (`ProcessCancelled`, once
exported but never raised, was removed so that no one writes a handler that never runs.)
"""

from __future__ import annotations

from pathlib import Path


class LLMProcError(Exception):
    """Root of every error llmproc raises on purpose."""


class ProgramConfigError(LLMProcError):
    """A program is invalid. `path` is the file (None for dict programs), `key` the dotted key."""

    def __init__(self, message: str, *, path: str | Path | None = None, key: str | None = None):
        self.path = str(path) if path is not None else None
        self.key = key
        self.detail = message
        where = self.path or "<program>"
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")


class ProviderError(LLMProcError):
    """A provider call failed after any retries.

    `retryable`: the failure was transient (a retry could succeed); `retries`: how many retries
    were made before giving up; `retry_after_s`: how long the server asked to wait, if it said;
    `detail`: the message without the bracketed prefix.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int | None = None,
        retryable: bool = False,
        request_id: str | None = None,
        retry_after_s: float | None = None,
        retries: int = 0,
    ):
        self.provider = provider
        self.status = status
        self.retryable = retryable
        self.request_id = request_id
        self.retry_after_s = retry_after_s
        self.retries = retries
        self.detail = message
        super().__init__(message)

    def __str__(self) -> str:
        # Built on demand: adapters fill in request_id after construction (mid-stream errors).
        parts = [self.provider]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.request_id:
            parts.append(f"request {self.request_id}")
        return f"[{', '.join(parts)}] {self.detail}"


class MissingCredentialsError(ProviderError):
    """No credentials were found; `env_var` names what to set."""

    def __init__(self, provider: str, env_var: str):
        self.env_var = env_var
        super().__init__(f"no API key: set the environment variable {env_var} (or put it in a .env file)",
                         provider=provider)


class ProviderNotInstalled(LLMProcError):
    """The SDK a provider needs is not importable."""

    def __init__(self, provider: str, package: str, extra: str | None):
        self.provider = provider
        hint = f'pip install "llmproc[{extra}]"' if extra else f"pip install {package}"
        super().__init__(f"provider {provider!r} needs the package {package!r}: {hint}")


class ToolError(LLMProcError):
    """A tool failed in a way the model should hear about (becomes an error result)."""


class ChildLimitReached(ToolError):
    """A process may not start more children: `limit` is "max_depth", "max_children" or "max_processes_per_tree" and
    `value` its setting. A ToolError, so the model hears about it when spawn/fork is its tool
    call; the Python API (`process.fork()`) turns it into BudgetExceeded with the same `limit`."""

    def __init__(self, limit: str, value: int, message: str):
        self.limit = limit
        self.value = value
        super().__init__(message)


class DuplicateToolError(LLMProcError, ValueError):
    """Two tools would be shown to the model under the same name. Also a ValueError: toolset
    construction raised ValueError before it had an error of its own, and callers catch that."""


class MCPServerError(LLMProcError):
    """An MCP server could not be started (or restarted). `command` is its command line or URL,
    `stderr_tail` the last lines it wrote to stderr ("" for HTTP servers or a silent server)."""

    def __init__(self, message: str, *, server: str, command: str, stderr_tail: str = ""):
        self.server = server
        self.command = command
        self.stderr_tail = stderr_tail
        super().__init__(message)


class FDError(LLMProcError):
    """A file descriptor operation failed (unknown fd, page out of range, ...)."""


class BudgetExceeded(LLMProcError):
    """A limit was reached. `limit` names it ("max_turns", "max_cost_usd", ...)."""

    def __init__(self, limit: str, value: object, message: str | None = None):
        self.limit = limit
        self.value = value
        super().__init__(message or f"limit {limit}={value} reached")


class StateError(LLMProcError):
    """A saved process state cannot be restored: malformed, or of a schema version this llmproc
    cannot read (the message names both versions)."""


class ProgramChangedError(StateError):
    """The program file differs (by sha256) from the one the state was saved with."""

    def __init__(self, message: str, *, path: str | None, saved_hash: str, current_hash: str):
        self.path = path
        self.saved_hash = saved_hash
        self.current_hash = current_hash
        super().__init__(message)


class StoreError(LLMProcError):
    """The process store could not do what was asked (open, read, write)."""


class DamagedStoreError(StoreError):
    """The store's file is damaged: not a database, malformed pages, or truncated to nothing.
    `path` is the file; the message says how to move it aside and start a new store."""

    def __init__(self, message: str, *, path: str):
        self.path = path
        super().__init__(message)


class NotFoundError(StoreError, KeyError):
    """No saved process (or record) of that name. Also a KeyError, so `except KeyError` works."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""
