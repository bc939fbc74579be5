#!/usr/bin/env python3
"""Records captures/qmp/qmp-pretty: a real QMP session with QEMU's pretty mode.

What it does
------------
* starts QEMU with a QMP monitor in pretty mode (QEMU 7.2 has no
  `-qmp ...,pretty=on`; the monitor option is the way):

      qemu-system-x86_64 -machine pc -S -accel tcg -nodefaults -display none \\
          -drive if=none,id=disk0,driver=null-co,read-only=on \\
          -chardev socket,id=qmp0,host=127.0.0.1,port=PORT,server=on,wait=off \\
          -mon chardev=qmp0,mode=control,pretty=on

  (the null-co drive reads and writes nothing; it gives query-block an
  answer);
* once QEMU listens, starts `tcpdump -i lo -U -w OUT/qmp-pretty.pcap 'tcp
  port PORT'` (so the capture holds the one QMP connection and nothing else);
* drives it with the official client, `qemu.qmp.QMPClient` (0.0.6):
  greeting and negotiation, queries (query-status, query-version,
  query-commands, query-block, query-name with and without an id, and
  three replies of 35 to 65 kB: query-command-line-options,
  query-cpu-definitions, qom-list-types), human-monitor-command (a string return with escaped
  CR LF), two failing commands (CommandNotFound, GenericError), stop, cont
  and system_reset (STOP, RESUME, RESET events) and quit (SHUTDOWN);
* writes, in OUT:
    qmp-pretty.pcap          the capture;
    qmp-pretty.truth.jsonl   one line per message, in the order the client
                             sent or received it, from the client's own view:
                             {"session": "CLIENT:PORT-SERVER:PORT", "proto":
                             "qmp", "dir": "c2s"|"s2c", "check": {"value": V}};
    qmp-pretty.c2s.bin       the exact bytes the client wrote;
    qmp-pretty.s2c.bin       the exact bytes the client read.

Where the truth comes from
--------------------------
qemu.qmp 0.0.6 reads one line per message (`_do_recv` = `readline` +
`json.loads`), so on its own it cannot read pretty output: the greeting's
first line is `{`. The subclass below replaces only `_do_recv`: it reads
lines until they hold one complete JSON value (QEMU starts every message on
a new line and ends it with CR LF) and hands that to the client as a
`Message`; everything else (negotiation, ids, routing of replies and events)
is the official client's. The truth is what this client sent (`bytes(msg)`
in `_do_send`) and received (the value `json.loads` made of the bytes read),
never a qscope decode. As a cross-check, the client's own DEBUG log lines
(`--> MSG` / `<-- MSG`) must hold the same values in the same order, and
the bytes must equal tshark's reassembly of the capture
(`-z follow,tcp,raw,0`).

Usage (as root, for tcpdump; needs qemu-system-x86_64, tcpdump, tshark and
`pip install qemu.qmp==0.0.6`):

    python3 captures/qmp/record-pretty.py [OUT_DIR] [--port 4444]

OUT_DIR defaults to this script's directory. Timestamps and ephemeral ports
differ on every run; everything else should come out the same.
"""
import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time

from qemu.qmp import ExecuteError, QMPClient
from qemu.qmp.message import Message

NAME = "qmp-pretty"


class PrettyClient(QMPClient):
    """QMPClient that reads pretty (multi-line) messages and records the wire."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.log = []  # {"dir", "value"} in the order sent or received
        self.wire = {"c2s": bytearray(), "s2c": bytearray()}

    async def _do_recv(self):
        buf = bytearray()
        while True:
            line = await self._reader.readline()
            if not line:
                self.wire["s2c"] += buf
                if buf.strip():
                    raise ValueError(f"EOF inside a message: {bytes(buf)!r}")
                raise EOFError
            buf += line
            if not buf.strip():
                continue
            try:
                value, end = json.JSONDecoder().raw_decode(buf.decode("utf-8").lstrip())
            except json.JSONDecodeError:
                continue  # not complete yet
            rest = buf.decode("utf-8").lstrip()[end:]
            assert not rest.strip(), f"a line held the start of another message: {rest!r}"
            self.wire["s2c"] += buf
            self.log.append({"dir": "s2c", "value": value})
            return Message(bytes(buf), eager=True)

    def _do_send(self, msg):
        data = bytes(msg)
        self.wire["c2s"] += data
        self.log.append({"dir": "c2s", "value": json.loads(data)})
        super()._do_send(msg)


class DebugLog(logging.Handler):
    """Collects the client's own DEBUG log of each message (`--> ` / `<-- `)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.msgs = []

    def emit(self, record):
        if record.msg in ("--> %s", "<-- %s"):
            d = "c2s" if record.msg.startswith("-->") else "s2c"
            self.msgs.append({"dir": d, "value": json.loads(str(record.args[0]))})


async def session(port):
    qmp = PrettyClient("qmp-pretty")
    await qmp.connect(("127.0.0.1", port))
    client = qmp._writer.get_extra_info("sockname")
    server = qmp._writer.get_extra_info("peername")

    await qmp.execute("query-status")
    await qmp.execute("query-version")
    await qmp.execute("query-commands")
    # Big replies, several segments each (query-qmp-schema would be 550 kB
    # pretty-printed: too big for a bundled capture).
    await qmp.execute("query-command-line-options")
    await qmp.execute("query-cpu-definitions")
    await qmp.execute("qom-list-types", {"abstract": True})
    await qmp.execute("query-block")
    await qmp._raw({"execute": "query-name"}, assign_id=False)  # no id
    await qmp._raw({"execute": "query-name", "id": "my-id-1"}, assign_id=False)
    await qmp.execute("human-monitor-command", {"command-line": "info version"})
    for bad in (("no-such-command", None), ("query-status", {"bogus": 1})):
        try:
            await qmp.execute(*bad)
        except ExecuteError:
            pass
    await qmp.execute("cont")  # RESUME
    await qmp.execute("query-status")
    await qmp.execute("stop")  # STOP
    await qmp.execute("system_reset")  # RESET
    await asyncio.sleep(0.2)  # let late events arrive
    try:
        await qmp.execute("quit")  # SHUTDOWN, return, then QEMU closes
    except Exception as e:  # the connection may close before the reply is routed
        print(f"quit: {e!r}", file=sys.stderr)
    await asyncio.sleep(0.3)
    try:
        await qmp.disconnect()
    except Exception as e:
        print(f"disconnect: {e!r}", file=sys.stderr)
    return qmp, f"{client[0]}:{client[1]}-{server[0]}:{server[1]}"


def listening(port):
    """Whether something listens on 127.0.0.1:port (from /proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if local == f"0100007F:{port:04X}" and state == "0A":
                return True
    return False


def tshark_streams(pcap):
    """The bytes of each direction of the capture's first TCP stream, by tshark."""
    out = subprocess.run(
        ["tshark", "-r", pcap, "-q", "-z", "follow,tcp,raw,0"],
        check=True, capture_output=True, text=True,
    ).stdout
    c2s, s2c = bytearray(), bytearray()
    for line in out.splitlines()[6:]:
        if line.startswith("===="):
            break
        if line.startswith("\t"):
            s2c += bytes.fromhex(line.strip())
        elif line:
            c2s += bytes.fromhex(line)
    return bytes(c2s), bytes(s2c)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--port", type=int, default=4444)
    a = ap.parse_args()
    base = os.path.join(a.out, NAME)
    pcap = base + ".pcap"

    if listening(a.port):
        sys.exit(f"port {a.port} is in use")
    qemu_cmd = [
        "qemu-system-x86_64", "-machine", "pc", "-S", "-accel", "tcg",
        "-nodefaults", "-display", "none",
        "-drive", "if=none,id=disk0,driver=null-co,read-only=on",
        "-chardev", f"socket,id=qmp0,host=127.0.0.1,port={a.port},server=on,wait=off",
        "-mon", "chardev=qmp0,mode=control,pretty=on",
    ]
    qemu = subprocess.Popen(qemu_cmd, stdin=subprocess.DEVNULL)
    for _ in range(100):
        if listening(a.port):
            break
        time.sleep(0.1)
    else:
        qemu.kill()
        sys.exit("QEMU does not listen")
    dump = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-U", "-n", "-Z", "root", "-w", pcap, f"tcp port {a.port}"],
        stderr=subprocess.PIPE, text=True,
    )
    assert "listening on" in dump.stderr.readline()
    debug = DebugLog()
    logging.getLogger("qemu.qmp").setLevel(logging.DEBUG)
    logging.getLogger("qemu.qmp").addHandler(debug)
    try:
        qmp, key = asyncio.run(session(a.port))
        qemu.wait(timeout=30)
    finally:
        if qemu.poll() is None:
            qemu.kill()
        time.sleep(0.5)
        dump.send_signal(signal.SIGINT)
        dump.wait(timeout=10)

    assert debug.msgs == qmp.log, "the client's DEBUG log and the wire log differ"
    with open(base + ".truth.jsonl", "w") as f:
        for e in qmp.log:
            line = {"session": key, "proto": "qmp", "dir": e["dir"], "check": {"value": e["value"]}}
            f.write(json.dumps(line) + "\n")
    for d in ("c2s", "s2c"):
        with open(f"{base}.{d}.bin", "wb") as f:
            f.write(qmp.wire[d])
    c2s, s2c = tshark_streams(pcap)
    assert c2s == qmp.wire["c2s"], "tshark's c2s stream differs from what the client wrote"
    assert s2c == qmp.wire["s2c"], "tshark's s2c stream differs from what the client read"
    n = {d: sum(e["dir"] == d for e in qmp.log) for d in ("c2s", "s2c")}
    print(f"{key}: {n['c2s']} c2s, {n['s2c']} s2c messages; "
          f"{len(c2s)} + {len(s2c)} bytes; pcap {os.path.getsize(pcap)} bytes; "
          f"QEMU exit {qemu.returncode}")


if __name__ == "__main__":
    main()
