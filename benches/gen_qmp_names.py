#!/usr/bin/env python3
"""Writes a QMP capture for statistics' memory bounds (not a cargo bench).

    benches/gen_qmp_names.py OUT.pcap [--names N] [--per-name K]
                             [--sessions S] [--unanswered] [--batch B]

One or more QMP sessions (greeting, qmp_capabilities), then N distinct
commands `cmd-0000001`, ... each sent K times (`{"execute": NAME, "id": I}`)
and answered (`{"return": {}, "id": I}`) unless --unanswered. Commands are
spread round-robin over S sessions (client ports 10000 + s); B commands
per TCP segment (default 1), their replies in the next server segment.
Classic little-endian microsecond pcap, Ethernet/IPv4/TCP, server
10.0.0.2:4444. Pure ACKs are left out (reassembly does not need them).

Measure with e.g.
    benches/gen_qmp_names.py /tmp/names1m.pcap --names 1000000
    /usr/bin/time -f '%M KB' target/release/qscope stats /tmp/names1m.pcap >/dev/null
"""

import argparse
import struct
import sys

GREETING = (b'{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, '
            b'"package": ""}, "capabilities": ["oob"]}}\r\n')
CAPS = b'{"execute": "qmp_capabilities"}\r\n'
CAPS_REPLY = b'{"return": {}}\r\n'


class Session:
    def __init__(self, out, cport):
        self.out = out
        self.cport = cport
        self.seq = [1000, 5000]

    def seg(self, side, flags, payload, ts):
        src, dst = (b'\x0a\x00\x00\x01', b'\x0a\x00\x00\x02')
        sp, dp = self.cport, 4444
        if side == 1:
            src, dst, sp, dp = dst, src, dp, sp
        ack = self.seq[1 - side] if flags & 0x10 else 0
        ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 40 + len(payload), 0, 0x4000,
                         64, 6, 0, src, dst)
        tcp = struct.pack('>HHIIBBHHH', sp, dp, self.seq[side], ack, 0x50, flags,
                          0xffff, 0, 0)
        frame = b'\x00' * 12 + b'\x08\x00' + ip + tcp + payload
        self.out.write(struct.pack('<IIII', ts // 1_000_000, ts % 1_000_000,
                                   len(frame), len(frame)))
        self.out.write(frame)
        self.seq[side] = (self.seq[side] + len(payload) + (1 if flags & 0x03 else 0)) & 0xffffffff

    def open(self, ts):
        self.seg(0, 0x02, b'', ts)
        self.seg(1, 0x12, b'', ts + 1)
        self.seg(0, 0x10, b'', ts + 2)
        self.seg(1, 0x18, GREETING, ts + 3)
        self.seg(0, 0x18, CAPS, ts + 4)
        self.seg(1, 0x18, CAPS_REPLY, ts + 5)

    def close(self, ts):
        self.seg(0, 0x11, b'', ts)
        self.seg(1, 0x11, b'', ts + 1)
        self.seg(0, 0x10, b'', ts + 2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('out')
    ap.add_argument('--names', type=int, default=1_000_000)
    ap.add_argument('--per-name', type=int, default=1)
    ap.add_argument('--sessions', type=int, default=1)
    ap.add_argument('--unanswered', action='store_true')
    ap.add_argument('--batch', type=int, default=1)
    a = ap.parse_args()
    with open(a.out, 'wb') as out:
        out.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        ts = 1_700_000_000_000_000
        sessions = [Session(out, 10000 + s) for s in range(a.sessions)]
        for s in sessions:
            s.open(ts)
            ts += 10
        total = a.names * a.per_name
        # Per session, the commands of its current batch.
        pending = [[] for _ in sessions]
        for i in range(total):
            k = i % len(sessions)
            pending[k].append(i)
            if len(pending[k]) < a.batch and i + len(sessions) < total:
                continue
            s = sessions[k]
            req = b''.join(b'{"execute": "%s", "id": %d}\r\n'
                           % (('cmd-%07d' % (j % a.names)).encode(), j) for j in pending[k])
            ts += 100
            s.seg(0, 0x18, req, ts)
            if not a.unanswered:
                rep = b''.join(b'{"return": {}, "id": %d}\r\n' % j for j in pending[k])
                # Latencies vary over a wide range: 50 us to about 0.5 s.
                ts += 50 + (i * 7919) % 500_000 // (1 + i % 97)
                s.seg(1, 0x18, rep, ts)
            pending[k] = []
        for s in sessions:
            ts += 10
            s.close(ts)
    return 0


if __name__ == '__main__':
    sys.exit(main())
