"""Who is calling: clients, their tokens, and which processes each may see.

A process belongs to the client that started it (`Entry.client`); `ps`, `wait`, `read_fd`,
`send`, `fork` and `kill` see only the caller's own processes, unless the caller is an admin.
A process that is not the caller's is answered exactly like one that does not exist, so a
client cannot even learn which pids others use.

Clients, from the transport and the token (the MCP authorization spec's resource-server role,
with tokens this server issues itself; OAuth introspection is not supported):
- stdio: `local`, admin. Whoever can start the server as the local user can read its store file
  anyway; a host on stdio sees every process of that user's store.
- HTTP without a token (loopback only): `local`, not admin.
- HTTP with `--token`: that token is `local` (one token, one identity: the server's user).
- HTTP with `--clients FILE`: each token is the client it is filed under, admin only when the file
  says `admin = true`:

      [clients.alice]
      token = "a long random string"
      [clients.ops]
      token = "another one"
      admin = true
"""

from __future__ import annotations

import contextvars
import hmac
import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOCAL = "local"
SCOPE_KEY = "llmproc.client"  # where BearerAuth leaves the caller in the ASGI scope
MIN_TOKEN_CHARS = 16


@dataclass(frozen=True)
class Client:
    name: str
    admin: bool = False

    def sees(self, owner: str) -> bool:
        """True when this client may see a process started by `owner` ("": a row from before
        clients existed, which was the local user's)."""
        return self.admin or (owner or LOCAL) == self.name


STDIO_CLIENT = Client(LOCAL, admin=True)
HTTP_LOCAL = Client(LOCAL)

# The client of the tool call being handled; the handlers set it, the table reads it.
current: contextvars.ContextVar[Client] = contextvars.ContextVar("llmproc_mcp_client", default=STDIO_CLIENT)


class ClientsError(ValueError):
    """A clients file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Credential:
    token: bytes
    client: Client


def read_clients_file(path: Path) -> tuple[Credential, ...]:
    """The tokens of `--clients FILE`; one-line ClientsError for anything wrong in it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ClientsError(f"--clients {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ClientsError(f"--clients {path}: not valid TOML ({exc})") from None
    table = data.get("clients")
    if set(data) - {"clients"} or not isinstance(table, dict) or not table:
        raise ClientsError(f"--clients {path}: expected [clients.NAME] tables with token = \"...\"")
    found: list[Credential] = []
    for name, entry in table.items():
        where = f"--clients {path}: [clients.{name}]"
        if not isinstance(entry, dict) or set(entry) - {"token", "admin"}:
            raise ClientsError(f"{where}: only token and admin are allowed")
        token, admin = entry.get("token"), entry.get("admin", False)
        if not isinstance(token, str) or len(token.strip()) < MIN_TOKEN_CHARS or token != token.strip():
            raise ClientsError(f"{where}: token must be a string of at least {MIN_TOKEN_CHARS} characters "
                               "without spaces around it")
        if not isinstance(admin, bool):
            raise ClientsError(f"{where}: admin must be true or false")
        if any(hmac.compare_digest(c.token, token.encode()) for c in found):
            raise ClientsError(f"{where}: the same token is filed under another client")
        found.append(Credential(token.encode(), Client(str(name), admin)))
    return tuple(found)


def caller(request: Any) -> Client:
    """The client of a tool call, from the HTTP request it came in (None: stdio)."""
    if request is None:
        return STDIO_CLIENT
    scope = getattr(request, "scope", None) or {}
    found = scope.get(SCOPE_KEY)
    return found if isinstance(found, Client) else HTTP_LOCAL


class BearerAuth:
    """ASGI middleware: every request but /health must carry `Authorization: Bearer <token>` with
    one of the known tokens; the request goes on carrying the token's client."""

    def __init__(self, app: Any, credentials: Sequence[Credential], exempt: Sequence[str] = ("/health",)):
        self.app = app
        self.credentials = tuple(credentials)
        self.exempt = tuple(exempt)

    def _match(self, given: bytes) -> Client | None:
        scheme, _, token = given.strip().partition(b" ")
        # RFC 9110: the scheme is case-insensitive (`bearer`, `BEARER`); the token is compared exactly.
        if scheme.lower() != b"bearer":
            return None
        token = token.strip()
        found = None
        for credential in self.credentials:  # every one compared: the time says nothing about which
            if hmac.compare_digest(token, credential.token):
                found = credential.client
        return found

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exempt:
            await self.app(scope, receive, send)
            return
        client = self._match(dict(scope.get("headers") or ()).get(b"authorization", b""))
        if client is not None:
            await self.app({**scope, SCOPE_KEY: client}, receive, send)
            return
        body = json.dumps({"error": "invalid_token",
                           "error_description": "send your token as `Authorization: Bearer <token>`"})
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"),
                                (b"www-authenticate", b'Bearer error="invalid_token"')]})
        await send({"type": "http.response.body", "body": body.encode()})


__all__ = ["HTTP_LOCAL", "LOCAL", "STDIO_CLIENT", "BearerAuth", "Client", "ClientsError", "Credential",
           "caller", "current", "read_clients_file"]
