"""A tiny TCP stream tool for the network benchmark: `serve PORT` sinks one connection at a time
and acknowledges the byte count; `send HOST PORT MB` streams MB mebibytes and prints MB/s;
`proxy PORT HOST HPORT` is a userland proxy (the mechanism DNAT from loopback replaces)."""

import socket
import sys
import time

CHUNK = 256 * 1024


def serve(port: int) -> None:
    listener = socket.create_server(("0.0.0.0", port), reuse_port=True)
    print("ready", flush=True)
    while True:
        conn, _ = listener.accept()
        total = 0
        while True:
            data = conn.recv(CHUNK)
            if not data:
                break
            total += len(data)
        conn.sendall(str(total).encode())
        conn.close()


def send(host: str, port: int, megabytes: int) -> None:
    payload = b"x" * CHUNK
    total = megabytes * 1024 * 1024
    start = time.perf_counter()
    conn = socket.create_connection((host, port), timeout=30)
    sent = 0
    while sent < total:
        conn.sendall(payload)
        sent += len(payload)
    conn.shutdown(socket.SHUT_WR)
    assert int(conn.recv(64)) == sent
    elapsed = time.perf_counter() - start
    print(f"{sent / elapsed / 1e6:.1f}")


def proxy(port: int, host: str, target_port: int) -> None:
    """Ketch's own userland proxy (what serves [::] bindings, and all without iptables)."""
    import asyncio

    from ketch.guest.engine.networks.proxy import PortProxy

    async def run() -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        await PortProxy(sock, (host, target_port)).start()
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    elif sys.argv[1] == "proxy":
        proxy(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
