#!/usr/bin/env python3
"""Writes the seed frames of vmm_fuzz_guest_inet into corpus-inet/: each file
is one mode byte (see fuzz_guest_inet.c) then an Ethernet frame, as a DHCP
server, a peer or the router would send it to the guest 52:54:00:77:00:21."""
import os
import struct

GUEST = bytes.fromhex("525400770021")
PEER = bytes.fromhex("525400770022")
SERVER = bytes.fromhex("525400770002")
BCAST = b"\xff" * 6
XID = 0x11223344


def ip4(s):
    return bytes(int(x) for x in s.split("."))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4(src, dst, proto, payload):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0,
                    ip4(src), ip4(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def eth(dst, src, etype, payload):
    return dst + src + struct.pack("!H", etype) + payload


def dhcp(msgtype, extra=b""):
    b = struct.pack("!BBBBIHH4s4s4s4s", 2, 1, 6, 0, XID, 0, 0, b"\0" * 4, ip4("10.77.0.21"),
                    b"\0" * 4, b"\0" * 4)
    b += GUEST + b"\0" * 10 + b"\0" * 192 + struct.pack("!I", 0x63825363)
    opts = bytes([53, 1, msgtype, 54, 4]) + ip4("10.77.0.2")
    opts += bytes([1, 4]) + ip4("255.255.255.0") + bytes([3, 4]) + ip4("10.77.0.1")
    opts += bytes([6, 8]) + ip4("10.77.0.3") + ip4("10.77.0.4")
    opts += bytes([26, 2]) + struct.pack("!H", 1450) + bytes([51, 4]) + struct.pack("!I", 86400)
    b += opts + extra + b"\xff"
    udp = struct.pack("!HHHH", 67, 68, 8 + len(b), 0) + b
    return eth(GUEST, SERVER, 0x0800, ipv4("10.77.0.2", "10.77.0.21", 17, udp))


def arp(op, sha, spa, tha, tpa, dst):
    a = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, ip4(spa), tha, ip4(tpa))
    return eth(dst, sha, 0x0806, a)


def icmp(t, ident, seq, src, dst):
    body = struct.pack("!BBHHH", t, 0, 0, ident, seq) + b"STRGUEST" + b"\0" * 48
    body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
    return eth(GUEST, PEER, 0x0800, ipv4(src, dst, 1, body))


seeds = {
    "dhcp-offer": (0, dhcp(2)),
    "dhcp-ack": (1, dhcp(5)),
    "dhcp-nak": (1, dhcp(6)),
    "dhcp-option-overrun": (0, dhcp(2, bytes([26, 200, 5, 0xDC]))),
    "arp-request": (2, arp(1, PEER, "10.77.0.22", b"\0" * 6, "10.77.0.21", BCAST)),
    "arp-reply": (3, arp(2, PEER, "10.77.0.22", GUEST, "10.77.0.21", GUEST)),
    "echo-request": (2, icmp(8, 7, 1, "10.77.0.22", "10.77.0.21")),
    "echo-reply": (3, icmp(0, 0x1234, 1, "10.77.0.22", "10.77.0.21")),
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus-inet")
os.makedirs(out, exist_ok=True)
for name, (mode, frame) in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([mode]) + frame)
