"""Drives a real QEMU through the official client (qemu.qmp) and prints, as
JSON lines, every message the client sent and received, in order:
{"dir": "c2s"|"s2c", "value": <the message>, "raw": "<the exact bytes, hex>"}.

Usage: python3 qmp_session.py PORT|SOCKET_PATH [--quit]

A number is a TCP port on 127.0.0.1, anything else a Unix socket path.
With --quit the session ends with the `quit` command (QEMU exits).
"""
import asyncio
import json
import sys

from qemu.qmp import ExecuteError, QMPClient


class LoggingClient(QMPClient):
    """A QMPClient that records the exact messages on the wire."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.log = []
        self.last_line = b""

    async def _readline(self):
        # Every byte the client receives passes here (a line at a time).
        line = await super()._readline()
        self.last_line = line
        return line

    async def _do_recv(self):
        msg = await super()._do_recv()
        self.log.append(
            {
                "dir": "s2c",
                "value": json.loads(bytes(msg)),
                "raw": self.last_line.hex(),
            }
        )
        return msg

    def _do_send(self, msg):
        raw = bytes(msg)
        self.log.append({"dir": "c2s", "value": json.loads(raw), "raw": raw.hex()})
        super()._do_send(msg)


async def main(target, quit_at_end):
    qmp = LoggingClient("qscope-live-test")
    address = ("127.0.0.1", int(target)) if target.isdigit() else target
    for _ in range(100):
        try:
            await qmp.connect(address)
            break
        except Exception:  # QEMU still starting
            await asyncio.sleep(0.1)
    else:
        sys.exit("QEMU did not accept a QMP connection")
    await qmp.execute("query-version")
    await qmp.execute("query-status")
    await qmp.execute("query-qmp-schema")  # a reply of about 200 kB
    try:
        await qmp.execute("no-such-command")
    except ExecuteError:
        pass
    try:
        await qmp.execute("query-status", {"bogus": 1})
    except ExecuteError:
        pass
    await qmp.execute("stop")  # STOP event
    await qmp.execute("cont")  # RESUME event
    await qmp.execute("query-name")
    await asyncio.sleep(0.3)  # let late events arrive
    if quit_at_end:
        await qmp.execute("quit")  # a reply, a SHUTDOWN event, then QEMU closes
        await asyncio.sleep(0.3)
    try:
        await qmp.disconnect()
    except EOFError:
        pass  # QEMU closed first (after quit)
    for entry in qmp.log:
        print(json.dumps(entry))


asyncio.run(main(sys.argv[1], "--quit" in sys.argv[2:]))
