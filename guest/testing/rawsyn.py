"""Send one TCP SYN as a raw Ethernet frame and report whether a SYN-ACK comes back.

Run in a container's network namespace, this is what any container may do with the default
CAP_NET_RAW: hand the bridge a packet for an address its own routing would never send there
(127.0.0.1), straight to the gateway's MAC. Tests use it to prove host loopback is out of reach.

    python3 -m ketch.guest.testing.rawsyn IFACE GATEWAY_MAC SRC_IP DST_IP PORT

prints "syn-ack" or "no answer" (after 2 s).
"""

import random
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800
SYN, ACK = 0x02, 0x10


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def tcp_syn(src: str, dst: str, sport: int, dport: int) -> bytes:
    """An IPv4 packet carrying a TCP SYN, checksums filled in."""
    src_b, dst_b = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = struct.pack(
        "!HHIIBBHHH", sport, dport, random.getrandbits(32), 0, 5 << 4, SYN, 64240, 0, 0
    )
    pseudo = src_b + dst_b + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(tcp),
        random.getrandbits(16),
        0,
        64,
        socket.IPPROTO_TCP,
        0,
        src_b,
        dst_b,
    )
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + tcp


def ethernet(dst_mac: bytes, src_mac: bytes, packet: bytes) -> bytes:
    return dst_mac + src_mac + struct.pack("!H", ETH_P_IP) + packet


def is_syn_ack(frame: bytes, src: str, sport: int, dport: int) -> bool:
    """Whether an Ethernet frame is the SYN-ACK from src:sport to our dport."""
    if len(frame) < 14 + 20 + 20 or struct.unpack("!H", frame[12:14])[0] != ETH_P_IP:
        return False
    ip = frame[14:]
    header_len = (ip[0] & 0x0F) * 4
    if ip[9] != socket.IPPROTO_TCP or ip[12:16] != socket.inet_aton(src):
        return False
    tcp = ip[header_len:]
    got_sport, got_dport = struct.unpack("!HH", tcp[:4])
    return (got_sport, got_dport) == (sport, dport) and tcp[13] & (SYN | ACK) == SYN | ACK


def probe(iface: str, gateway_mac: str, src: str, dst: str, port: int, wait: float = 2.0) -> bool:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    try:
        sock.bind((iface, 0))
        own_mac = sock.getsockname()[4]
        sport = random.randint(20000, 60000)
        sock.send(
            ethernet(
                bytes.fromhex(gateway_mac.replace(":", "")), own_mac, tcp_syn(src, dst, sport, port)
            )
        )
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                frame = sock.recv(65535)
            except TimeoutError:
                break
            if is_syn_ack(frame, dst, port, sport):
                return True
        return False
    finally:
        sock.close()


if __name__ == "__main__":
    iface_arg, mac_arg, src_arg, dst_arg, port_arg = sys.argv[1:6]
    print("syn-ack" if probe(iface_arg, mac_arg, src_arg, dst_arg, int(port_arg)) else "no answer")
