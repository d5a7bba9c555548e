"""A small authoritative DNS server: UDP and TCP on 127.0.0.1, zones from a dict.

The tests and the benchmark point the gateway at it so that no lookup leaves the
machine, and `aupgate demo` runs one so the demo works offline with real answers.

    server = ZoneServer({"example.test": {"TXT": ["v=spf1 -all"], "A": ["192.0.2.1"]}})
    server.start()            # threads; server.port is the port for both UDP and TCP
    server.add("sel._domainkey.example.test", "TXT", "v=DKIM1; p=...")
    server.servfail("broken.test")  # SERVFAIL for this name and everything under it
    server.blackhole("slow.test")    # never answer: the client times out
    server.queries                   # Counter of (name, type) actually asked

Names not in the zone get NXDOMAIN; known names without the type get NOERROR/NODATA.
TXT values longer than 255 bytes are split into several strings, as real zones do.
Also runnable as a process: `python -m gateway.localdns zone.json [port]`.
"""

from __future__ import annotations

import json
import socket
import socketserver
import struct
import sys
import threading
from collections import Counter

from dnslib import AAAA, CNAME, MX, PTR, QTYPE, RCODE, RR, TXT, A, DNSRecord

# The trust's zone as the demo and the tests publish it: the academy mail server
# (127.0.0.2 in the demo) is the only sender for the trust's domain.
DEMO_ZONES: dict[str, dict[str, list]] = {
    "stchristophers.example": {"TXT": ["v=spf1 ip4:127.0.0.2 -all"],
                               "MX": [(10, "mx.stchristophers.example")]},
    "mx.stchristophers.example": {"A": ["127.0.0.1"]},
    "_dmarc.stchristophers.example": {"TXT": ["v=DMARC1; p=quarantine"]},
}

_TYPES = {"A": A, "AAAA": AAAA, "MX": MX, "PTR": PTR, "CNAME": CNAME}


def _norm(name: str) -> str:
    return name.strip().rstrip(".").lower()


class ZoneServer:
    def __init__(self, zones: dict[str, dict[str, list]] | None = None, ttl: int = 300,
                 host: str = "127.0.0.1") -> None:
        self.host = host
        self.ttl = ttl
        self.records: dict[str, dict[str, list]] = {}
        self.broken: set[str] = set()
        self.silent: set[str] = set()
        self.queries: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()
        self.port = 0
        self._servers: list[socketserver.BaseServer] = []
        for name, types in (zones or {}).items():
            for rtype, values in types.items():
                for value in values:
                    self.add(name, rtype, value)

    # -- zone edits ----------------------------------------------------------------

    def add(self, name: str, rtype: str, value, ttl: int | None = None) -> None:
        with self.lock:
            self.records.setdefault(_norm(name), {}).setdefault(rtype.upper(), []).append(
                (value, self.ttl if ttl is None else ttl))

    def remove(self, name: str) -> None:
        with self.lock:
            self.records.pop(_norm(name), None)

    def servfail(self, name: str) -> None:
        self.broken.add(_norm(name))

    def blackhole(self, name: str) -> None:
        self.silent.add(_norm(name))

    def count(self, name: str, rtype: str = "TXT") -> int:
        return self.queries[(_norm(name), rtype.upper())]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # -- answering ---------------------------------------------------------------------

    def _under(self, name: str, names: set[str]) -> bool:
        return any(name == n or name.endswith("." + n) for n in names)

    def answer(self, data: bytes) -> bytes | None:
        request = DNSRecord.parse(data)
        qname = str(request.q.qname)
        name = _norm(qname)
        qtype = QTYPE[request.q.qtype]
        with self.lock:
            self.queries[(name, qtype)] += 1
            if self._under(name, self.silent):
                return None
            reply = request.reply()            # aa=1, ra=1
            if self._under(name, self.broken):
                reply.header.rcode = RCODE.SERVFAIL
                return reply.pack()
            node = self.records.get(name)
            if node is None:
                reply.header.rcode = RCODE.NXDOMAIN
                return reply.pack()
            target, rtype = name, qtype
            if qtype not in node and "CNAME" in node:
                cname, ttl = node["CNAME"][0]
                reply.add_answer(RR(qname, QTYPE.CNAME, rdata=CNAME(cname), ttl=ttl))
                target, node = _norm(cname), self.records.get(_norm(cname), {})
                qname = cname
            for value, ttl in node.get(rtype, []):
                reply.add_answer(RR(qname, getattr(QTYPE, rtype), rdata=_rdata(rtype, value),
                                    ttl=ttl))
            del target
        return reply.pack()

    # -- serving -------------------------------------------------------------------------

    def start(self, port: int = 0) -> ZoneServer:
        owner = self

        class UDPHandler(socketserver.BaseRequestHandler):
            def handle(self):
                data, sock = self.request
                try:
                    out = owner.answer(data)
                except Exception:  # noqa: BLE001 - a malformed query gets no answer
                    return
                if out is not None:
                    if len(out) > 512:
                        out = _truncated(data)
                    sock.sendto(out, self.client_address)

        class TCPHandler(socketserver.BaseRequestHandler):
            def handle(self):
                try:
                    while True:
                        head = self.request.recv(2)
                        if len(head) < 2:
                            return
                        (length,) = struct.unpack("!H", head)
                        data = b""
                        while len(data) < length:
                            chunk = self.request.recv(length - len(data))
                            if not chunk:
                                return
                            data += chunk
                        out = owner.answer(data)
                        if out is None:
                            return
                        self.request.sendall(struct.pack("!H", len(out)) + out)
                except OSError:
                    return

        class UDP(socketserver.ThreadingUDPServer):
            daemon_threads = True
            allow_reuse_address = True

        class TCP(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        for _ in range(20):
            try_port = port or _free_port(self.host)
            try:
                udp = UDP((self.host, try_port), UDPHandler)
            except OSError:
                if port:
                    raise
                continue
            try:
                tcp = TCP((self.host, try_port), TCPHandler)
            except OSError:
                udp.server_close()
                if port:
                    raise
                continue
            break
        else:
            raise RuntimeError("no free port for the test DNS server")
        self.port = try_port
        self._servers = [udp, tcp]
        for srv in self._servers:
            threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2},
                             daemon=True, name=f"dns-{type(srv).__name__}").start()
        return self

    def stop(self) -> None:
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
        self._servers = []


def _rdata(rtype: str, value):
    if rtype == "TXT":
        if isinstance(value, str):
            value = value.encode()
        if isinstance(value, bytes):
            value = [value[i:i + 255] for i in range(0, len(value), 255)] or [b""]
        return TXT(list(value))
    if rtype == "MX":
        pref, exchange = value if isinstance(value, (tuple, list)) else (10, value)
        return MX(exchange, pref)
    return _TYPES[rtype](value)


def _truncated(query: bytes) -> bytes:
    request = DNSRecord.parse(query)
    reply = request.reply()
    reply.header.tc = 1
    return reply.pack()


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as f:
        zones = json.load(f)
    server = ZoneServer(zones).start(int(argv[2]) if len(argv) > 2 else 0)
    print(server.port, flush=True)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
