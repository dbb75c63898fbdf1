"""The one outbound-HTTP path: every request GradeSync sends to a user-given host leaves here.

Checking a URL once and letting ``requests`` resolve the name again later is a DNS-rebinding
hole: the name can answer a public address to the check and 127.0.0.1 to the connection. So
the check lives in the connection itself. :class:`GuardedAdapter` (mounted by
:func:`guarded_session`) opens every new connection like this:

1. resolve the host name once (``getaddrinfo``; the name is already an A-label, see
   :func:`normalise_host`, so the resolver and the URL agree on which name it is);
2. refuse the connection unless every address is public - or the policy allows private hosts
   (tests and the demo talk to the simulator on 127.0.0.1) - and plain http unless the
   policy allows private hosts and the address is not public;
3. connect to exactly an address that was checked; SNI, certificate verification and the
   ``Host`` header still use the name, as urllib3 keeps them on the connection's ``host``.

A refusal raises :class:`OutboundRefused` (not an ``OSError``, so urllib3 does not retry it).
Proxies from the environment are not used: a proxy resolves the name itself, past the check.
The Canvas client, the token endpoint and the webhook sender all build their sessions here.

Every call through the adapter also runs under :class:`~app.outbound_limits.Limits` (see
:mod:`app.outbound_limits`): a wall-clock deadline for the whole call, enforced by shutting the
socket down when it passes, and a body read inside the call up to a cap (small, uncompressed
and ``Accept-Encoding: identity`` unless the caller, the Canvas client, asks for more).
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import idna
import requests
from requests.adapters import HTTPAdapter
from urllib3 import PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from app.outbound_limits import SMALL, Limits, send_within, time_left, watch_connection

# Prefixes whose addresses carry an IPv4 address that the packet is really headed for.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_V4_COMPATIBLE = ipaddress.IPv6Network("::/96")


@dataclass(frozen=True)
class OutboundPolicy:
    """Where outbound requests may go.

    :param allow_private: allow loopback, private, link-local and reserved addresses, any
        port, and plain http to them (``CANVAS_ALLOW_PRIVATE_HOSTS``).
    :param allowed_hosts: when not empty, the only host names allowed (A-labels, lower case).
    """

    allow_private: bool = False
    allowed_hosts: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OutboundPolicy:
        """The policy an app's configuration asks for."""
        hosts = config.get("CANVAS_ALLOWED_HOSTS") or ()
        return cls(
            allow_private=bool(config.get("CANVAS_ALLOW_PRIVATE_HOSTS")),
            allowed_hosts=tuple(normalise_host(h) for h in hosts),
        )


STRICT = OutboundPolicy()


class OutboundRefused(Exception):
    """A connection the policy forbids (a private address, plain http to a public host)."""


def normalise_host(host: str) -> str:
    """A host name as its lower-case A-label (UTS-46, IDNA 2008); IP literals unchanged.

    ``requests`` connects with UTS-46 (``ß`` -> ``xn--zca``) while the C resolver applies
    IDNA 2003 to a non-ASCII name (``ß`` -> ``ss``): check and connect must use one name.
    Raises ``UnicodeError`` (``idna.IDNAError`` is one) for a name that has no A-label.
    """
    host = host.strip().lower().strip("[]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if _PLAIN_ASCII_NAME.fullmatch(host):
        # Letters, digits and inner hyphens only, no "xn--" or other "??--" label: UTS-46 maps
        # such a name to itself, so the idna tables (about 50 ms to load) are not needed.
        return host
    return idna.encode(host, uts46=True).decode("ascii")


_LDH_LABEL = r"(?![a-z0-9]{2}--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PLAIN_ASCII_NAME = re.compile(rf"(?=.{{1,253}}$){_LDH_LABEL}(?:\.{_LDH_LABEL})*")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address tunnels to (mapped, 6to4, Teredo, NAT64, compatible)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # (server, client): the client is where packets end up
    if ip in _NAT64 or (ip in _V4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(address: str) -> bool:
    """Whether ``address`` is on the public internet (and so is whatever it tunnels to)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None and not is_public_address(str(inner)):
            return False
        if ip.ipv4_mapped is not None:
            return True  # ::ffff:a.b.c.d is the IPv4 address itself, checked above
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
        # Shared address space (100.64.0.0/10, carrier NAT; some clouds' metadata services)
        # is neither "private" nor "reserved" to ipaddress, but it is not the internet.
        or not ip.is_global
    )


def check_address(address: str, *, policy: OutboundPolicy, tls: bool, host: str) -> None:
    """Raise :class:`OutboundRefused` unless ``policy`` lets a connection go to ``address``."""
    public = is_public_address(address)
    if not public and not policy.allow_private:
        raise OutboundRefused(
            f"{host} resolves to a private or reserved address ({address}); "
            "GradeSync only connects to public hosts"
        )
    if not tls and (public or not policy.allow_private):
        raise OutboundRefused(f"{host} is a public host: GradeSync only connects to it over https")


def guarded_connect(
    host: str,
    port: int,
    *,
    policy: OutboundPolicy,
    tls: bool,
    timeout: float | None,
    source_address: tuple[str, int] | None = None,
    socket_options: Iterable[tuple[int, int, int | bytes]] | None = None,
) -> socket.socket:
    """Resolve ``host`` once, check every address, connect to a checked one."""
    infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    if not infos:
        raise socket.gaierror(socket.EAI_NONAME, f"no address for {host}")
    for info in infos:  # every answer, so a mixed public/private answer is refused too
        check_address(str(info[4][0]), policy=policy, tls=tls, host=host)
    error: OSError | None = None
    for family, kind, proto, _name, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)  # the address checked above, never a fresh lookup
            return sock
        except OSError as exc:
            error = exc
            sock.close()
    assert error is not None
    raise error


class _GuardedMixin:
    """``_new_conn`` through :func:`guarded_connect`, with urllib3's own error mapping."""

    host: str
    port: int
    timeout: float | None
    source_address: tuple[str, int] | None
    socket_options: Any
    _dns_host: str
    _tls = False

    def __init__(self, *args: Any, outbound_policy: OutboundPolicy = STRICT, **kw: Any) -> None:
        self.outbound_policy = outbound_policy
        super().__init__(*args, **kw)

    def _new_conn(self) -> socket.socket:
        try:
            return guarded_connect(
                self._dns_host,
                self.port,
                policy=self.outbound_policy,
                tls=self._tls,
                timeout=time_left(self.timeout),  # never past the call's deadline
                source_address=self.source_address,
                socket_options=self.socket_options,
            )
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from exc
        except OSError as exc:
            raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc  # type: ignore[arg-type]

    def request(self, *args: Any, **kw: Any) -> None:
        watch_connection(self)  # the socket is shut at the deadline of the call sending this
        super().request(*args, **kw)  # type: ignore[misc]


class GuardedHTTPConnection(_GuardedMixin, HTTPConnection):
    """A plain-http connection that opens only where the policy allows."""


class GuardedHTTPSConnection(_GuardedMixin, HTTPSConnection):
    """An https connection that opens only where the policy allows (SNI stays the name)."""

    _tls = True


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class _GuardedPoolManager(PoolManager):
    """A pool manager whose pools only make guarded connections under one policy."""

    def __init__(self, *args: Any, outbound_policy: OutboundPolicy, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.outbound_policy = outbound_policy
        self.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}

    def _new_pool(
        self, scheme: str, host: str, port: int, request_context: dict[str, Any] | None = None
    ) -> HTTPConnectionPool:
        pool = super()._new_pool(scheme, host, port, request_context)
        pool.conn_kw["outbound_policy"] = self.outbound_policy  # connections are made lazily
        return pool


# Keep-alive connections shared by every adapter that asks for them (the Canvas clients), one
# pool manager per process and policy: a worker's next sync, for whichever student, reuses the
# connections to the school's Canvas that the last one opened instead of paying TCP and TLS
# handshakes again (each one or two round trips on the sync's first wave). A connection carries
# no credentials of its own: every request brings its own Authorization header.
_shared_pools: dict[tuple[int, OutboundPolicy, int, int], _GuardedPoolManager] = {}
_shared_lock = threading.Lock()


def _shared_pool_manager(policy: OutboundPolicy, connections: int,
                         maxsize: int) -> _GuardedPoolManager:
    key = (os.getpid(), policy, connections, maxsize)  # a forked child makes its own
    with _shared_lock:
        manager = _shared_pools.get(key)
        if manager is None:
            manager = _GuardedPoolManager(num_pools=connections, maxsize=maxsize, block=False,
                                          outbound_policy=policy)
            _shared_pools[key] = manager
        return manager


def forget_shared_connections() -> None:
    """Close every shared keep-alive connection of this process (the next request opens a
    new one): what a fresh process starts with, e.g. for a benchmark's timed run."""
    with _shared_lock:
        managers = list(_shared_pools.values())
        _shared_pools.clear()
    for manager in managers:
        manager.clear()


class GuardedAdapter(HTTPAdapter):
    """A ``requests`` adapter whose every connection goes through :func:`guarded_connect`.

    ``shared``: its connections come from this process's shared pool for ``policy`` (kept
    when the adapter is closed) instead of a pool of its own.
    """

    def __init__(self, policy: OutboundPolicy = STRICT, *, limits: Limits = SMALL,
                 shared: bool = False, **kw: Any) -> None:
        self.policy = policy  # set before super().__init__, which builds the pool manager
        self.limits = limits
        self.shared = shared
        super().__init__(**kw)

    def close(self) -> None:
        if not self.shared:
            super().close()

    def send(self, request: requests.PreparedRequest, *args: Any,
             **kw: Any) -> requests.Response:
        """Send within the deadline, the body read here up to the caps (see ``Limits``)."""
        if args:  # requests passes everything by keyword; keep the positional form working
            kw.update(zip(("stream", "timeout", "verify", "cert", "proxies"), args, strict=False))
        return send_within(super().send, request, self.limits, **kw)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        self._pool_connections = connections
        self._pool_maxsize = maxsize
        self._pool_block = block
        if getattr(self, "shared", False) and not block and not pool_kwargs:
            self.poolmanager = _shared_pool_manager(self.policy, connections, maxsize)
            return
        self.poolmanager = _GuardedPoolManager(
            num_pools=connections,
            maxsize=maxsize,
            block=block,
            outbound_policy=self.policy,
            **pool_kwargs,
        )

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise OutboundRefused("GradeSync does not send these requests through a proxy")


def guarded_session(
    policy: OutboundPolicy = STRICT, *, limits: Limits = SMALL, shared: bool = False,
    **adapter_options: Any
) -> requests.Session:
    """A ``requests.Session`` whose http and https requests all go through the guard, each
    within ``limits`` (by default: 30 s in all, a 64 KiB uncompressed body); ``shared``: on
    the process's shared keep-alive connections (:class:`GuardedAdapter`)."""
    session = requests.Session()
    session.trust_env = False  # no proxies (they resolve past the guard) and no .netrc
    adapter = GuardedAdapter(policy, limits=limits, shared=shared, **adapter_options)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
