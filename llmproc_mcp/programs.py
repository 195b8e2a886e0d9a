"""Which programs a host may run: the `*.toml` files of the `--programs` folders, by file stem,
or a path to a `.toml` file inside one of those folders. Nothing else: a host cannot point the
server at an arbitrary file on the machine.

Programs are loaded on use and cached by (path, modification time), so an edited program file
takes effect on the next run without a restart. Loading (the TOML, its validation, the engine
modules the first load imports) and building a client (its SDK import, its TLS context) take
CPU time, so the server does both in a worker thread (`aload`, `aprovider_for`), and `warm()`
does them for every registered program ahead of the first run.

Processes of one program share a few provider clients, taken in turn: building a client costs
tens of milliseconds of CPU (its TLS context), which a burst of concurrent runs would otherwise
pay once per process, while one client for everything makes its connection pool the bottleneck
(the pool scans all its connections for each request). The clients are the engine's
(`llmproc.providers.shared`, one pool for the server and the children its processes spawn), in
CLIENTS_PER_PROGRAM slots per program; the registry holds a lease on each slot it used, hands
processes borrowed handles, and gives the leases back when the server stops, which closes the
clients. Clients hold no per-conversation state.
"""

from __future__ import annotations

import itertools
import logging
import stat
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
from llmproc.errors import LLMProcError, ProgramConfigError
from mcp.server.mcpserver.exceptions import ToolError

if TYPE_CHECKING:
    from llmproc.program import LLMProgram
    from llmproc.providers.base import Provider, ProviderSettings
    from llmproc.providers.shared import Lease

log = logging.getLogger("llmproc_mcp.programs")
RACY_S = 2.0  # a folder listing this close to the folder's last change is made again next time
CLIENTS_PER_PROGRAM = 8
MAX_REF_CHARS = 1024  # a program name or path longer than this is refused with a reason
WARM_PROGRAMS = 30  # programs loaded ahead of use; a bigger folder loads the rest on first run  # measured: 100 concurrent runs are ~20% faster than with one shared client


class ProgramRegistry:
    def __init__(self, roots: Iterable[Path], *, requests_per_minute: int | None = None,
                 input_tokens_per_minute: int | None = None):
        self.roots = tuple(Path(r).resolve() for r in roots)
        self.rate_limits = (requests_per_minute, input_tokens_per_minute)  # --requests-per-minute, ...
        self._cache: dict[Path, tuple[int, LLMProgram]] = {}
        self._listings: dict[Path, tuple[int, float, list[Path]]] = {}  # mtime, listed at, files
        # (the provider settings' repr, slot) -> (a program of those settings, our lease on the
        # slot's client): programs with the same settings share the slots
        self._leases: dict[tuple[str, int], tuple[LLMProgram, Lease]] = {}
        self._building: dict[tuple[str, int], anyio.Event] = {}  # a slot's client being built
        self._loading: dict[Path, anyio.Event] = {}  # a program file being loaded
        self._turns = itertools.count()

    def names(self) -> dict[str, Path]:
        """Registered name -> file. The first folder wins when two hold the same name."""
        found: dict[str, Path] = {}
        for root in self.roots:
            listing = self._listing(root)
            if listing is None:
                log.warning("program folder %s does not exist", root)
                continue
            for path in listing:
                if path.stem in found and found[path.stem] != path.resolve():
                    log.warning("program %r in %s is shadowed by %s", path.stem, root, found[path.stem])
                    continue
                found.setdefault(path.stem, path.resolve())
        return found

    def _listing(self, root: Path) -> list[Path] | None:
        """The folder's *.toml files, listed again only when the folder changed (a file added,
        removed or renamed changes its modification time): every run resolves its program. A
        listing made within RACY_S of the last change is not trusted: on file systems with coarse
        timestamps a file added in the same tick leaves the time unchanged."""
        try:
            info = root.stat()
        except OSError:
            return None
        if not stat.S_ISDIR(info.st_mode):
            return None
        mtime = info.st_mtime_ns
        cached = self._listings.get(root)
        if cached is None or cached[0] != mtime or cached[1] - mtime / 1e9 < RACY_S:
            cached = self._listings[root] = (mtime, time.time(), sorted(root.glob("*.toml")))
        return cached[2]

    def resolve(self, ref: str) -> tuple[str, Path]:
        """(name, path) for a registered name or a .toml path inside a root; ToolError otherwise.
        A name whose file is a symlink to a file outside the folders is refused like such a path."""
        ref = ref.strip()
        if "\x00" in ref:
            raise ToolError("program name contains a NUL character; give a registered name or a .toml path")
        if len(ref) > MAX_REF_CHARS:
            raise ToolError(f"program name is {len(ref)} characters long; at most {MAX_REF_CHARS} "
                            "(give a registered name or a .toml path inside the program folders)")
        names = self.names()
        if ref in names:
            if not self._inside(names[ref]):
                raise ToolError(f"program {ref!r} is a link to {names[ref]}, which is not inside the program "
                                f"folders ({', '.join(map(str, self.roots))})")
            return ref, names[ref]
        if ref.endswith(".toml"):
            candidates = [Path(ref)] if Path(ref).is_absolute() else [root / ref for root in self.roots]
            for candidate in candidates:
                try:
                    path = candidate.resolve()
                    found = path.is_file() and self._inside(path)
                except (OSError, ValueError):  # a name too long for the file system, a loop of links
                    continue
                if found:
                    return path.stem, path
            raise ToolError(f"program file {ref!r} is not inside the program folders "
                            f"({', '.join(map(str, self.roots)) or 'none configured'})")
        known = ", ".join(sorted(names)) or "none (start the server with --programs DIR)"
        raise ToolError(f"unknown program {ref!r}; registered programs: {known}")

    def _inside(self, path: Path) -> bool:
        return any(path.is_relative_to(root) for root in self.roots)

    async def aload(self, ref: str) -> tuple[str, LLMProgram]:
        """`load`, in a worker thread unless the program is loaded already and unchanged (a
        listing and a stat: cheaper than the hop to a thread). A burst of first runs waits for
        one load rather than parsing the file once each in the thread pool."""
        while True:
            found = self._cached(ref)
            if found is not None:
                return found
            path = self.resolve(ref)[1]
            loading = self._loading.get(path)
            if loading is None:
                break
            await loading.wait()  # then cached, or failed: a failure is each caller's to see
        self._loading[path] = done = anyio.Event()
        try:
            return await anyio.to_thread.run_sync(self.load, ref)
        finally:
            del self._loading[path]
            done.set()

    def _cached(self, ref: str) -> tuple[str, LLMProgram] | None:
        name, path = self.resolve(ref)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == path.stat().st_mtime_ns:
            return name, cached[1]
        return None

    def load(self, ref: str) -> tuple[str, LLMProgram]:
        from llmproc.program import LLMProgram

        found = self._cached(ref)
        if found is not None:
            return found
        name, path = self.resolve(ref)
        mtime = path.stat().st_mtime_ns
        try:
            program = LLMProgram.from_toml(path)
        except ProgramConfigError as exc:
            raise ToolError(f"program {name!r} does not load: {exc}") from None
        self._cache[path] = (mtime, program)
        return name, program

    async def aprovider_for(self, program: LLMProgram) -> Provider:
        """A shared client for `program`, as a borrowed handle a process cannot close; built in a
        worker thread the first time. A scripted provider is never shared: its script is state."""
        from llmproc.providers import shared
        from llmproc.providers.registry import create_provider, settings_for
        from llmproc.providers.retry import RetryingProvider, RetryPolicy

        settings = settings_for(program)
        if any(self.rate_limits):  # a ceiling for every account on this loop, children's too
            from llmproc.providers.ratelimit import StaticLimits, set_loop_ceiling

            set_loop_ceiling(StaticLimits(*self.rate_limits))
        if settings.provider == "scripted":
            return create_provider(settings)
        slot = next(self._turns) % CLIENTS_PER_PROGRAM
        key = (repr(settings), slot)  # not the program object: a file loaded twice shares its clients
        held = self._leases.get(key)
        while held is None:
            building = self._building.get(key)
            if building is not None:  # the first calls of a burst wait for one build, not one each
                await building.wait()
                held = self._leases.get(key)
                continue  # None: that build failed, try again
            self._building[key] = done = anyio.Event()
            try:
                adapter = await anyio.to_thread.run_sync(lambda: _build_adapter(settings))
                lease = shared.acquire(settings, lambda: adapter, slot=slot)
                assert isinstance(lease, shared.Lease), "called on the event loop: the pool hands out leases"
                held = self._leases[key] = (program, lease)
                if lease.inner is not adapter:  # the pool had this client open already
                    await adapter.aclose()
            finally:
                del self._building[key]
                done.set()
        return RetryingProvider(held[1].borrowed(), RetryPolicy.from_settings(settings))

    def warm(self) -> None:
        """Load every registered program and import its provider's SDK (in a worker thread, at
        start-up), so the first run of each pays neither on the event loop. Failures are left
        for the run to report."""
        from llmproc.providers.registry import import_adapter

        for name in list(self.names())[:WARM_PROGRAMS]:
            try:
                import_adapter(self.load(name)[1].config.model.provider)
            except (ToolError, LLMProcError, ImportError) as exc:
                log.debug("warming program %r: %s", name, exc)

    async def aclose(self) -> None:
        """Give the leases back: a client nothing else holds (a spawned child) closes now."""
        leases, self._leases = self._leases, {}
        for _program, lease in leases.values():
            await lease.aclose()


def _build_adapter(settings: ProviderSettings) -> Provider:
    """The SDK-backed adapter for `settings`, as `create_provider` builds it before wrapping it
    in retries: in a worker thread, since the SDK import and the TLS context cost CPU."""
    from llmproc.providers.registry import PROVIDERS, import_adapter

    return getattr(import_adapter(settings.provider), PROVIDERS[settings.provider].factory)(settings)


__all__ = ["ProgramRegistry"]
