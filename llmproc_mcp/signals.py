"""`kill` of a process that runs on another server of the store: asked through the store.

The server that kills writes a `("signal", <pid>)` record; every server reads the signals every
CHECK_S and kills the processes it owns (their fork copies with them), then deletes the record.
The killer waits until the store shows them stopped, at most CONFIRM_S. A signal for a process
whose server died stays unanswered: that server's runs are marked interrupted anyway (rows.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from llmproc_mcp import leases

if TYPE_CHECKING:
    from llmproc_mcp.entry import Entry
    from llmproc_mcp.table import ProcessTable

log = logging.getLogger("llmproc_mcp.signals")
KIND = "signal"
CHECK_S = 0.5
CONFIRM_S = 4 * CHECK_S + leases.RENEW_S


async def ask_to_kill(table: ProcessTable, entries: Sequence[Entry]) -> None:
    for entry in entries:
        table.persistence.put(KIND, str(entry.pid), {"signal": "kill", "by": table.sharing.server_id,
                                                     "at": time.time()})
    await table.flush()
    with anyio.move_on_after(CONFIRM_S):
        while any(e.status.active for e in entries):
            await anyio.sleep(CHECK_S / 2)
            await table.refresh([e.pid for e in entries])
    still = [e for e in entries if e.status.active]
    if still:
        owners = ", ".join(sorted({e.owner for e in still}))
        raise ToolError(f"asked {owners} to kill process(es) {', '.join(str(e.pid) for e in still)}; not "
                        f"confirmed within {CONFIRM_S:g} s (see ps)")


async def obey(table: ProcessTable) -> None:
    """Until cancelled: kill what other servers asked this one to kill."""
    while True:
        await anyio.sleep(CHECK_S)
        try:
            asked = await table.persistence.arecords(KIND)
        except Exception:  # the store is busy or gone for a moment: next time
            log.debug("could not read signals", exc_info=True)
            continue
        for key, data in asked.items():
            entry = table.entries.get(int(key)) if key.isdigit() else None
            if entry is None or not table.owns(entry):
                if time.time() - float(data.get("at", 0)) > leases.TTL_S:  # nobody will answer it
                    await table.persistence.adelete(KIND, key)
                continue
            await table.persistence.adelete(KIND, key)
            if data.get("signal") == "kill":
                log.info("killing process %s as %s asked", key, data.get("by"))
                try:
                    await table.kill(entry.pid)
                    await table.flush()
                except ToolError as exc:
                    log.warning("could not kill process %s: %s", key, exc)


__all__ = ["CONFIRM_S", "KIND", "ask_to_kill", "obey"]
