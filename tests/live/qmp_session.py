"""Drives a real QEMU through the official client (qemu.qmp) and prints, as
JSON lines, every message the client sent and received, in order:
{"dir": "c2s"|"s2c", "value": <the message>}.

Usage: python3 qmp_session.py PORT
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

    async def _do_recv(self):
        msg = await super()._do_recv()
        self.log.append({"dir": "s2c", "value": json.loads(bytes(msg))})
        return msg

    def _do_send(self, msg):
        self.log.append({"dir": "c2s", "value": json.loads(bytes(msg))})
        super()._do_send(msg)


async def main(port):
    qmp = LoggingClient("qscope-live-test")
    for _ in range(100):
        try:
            await qmp.connect(("127.0.0.1", port))
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
    await qmp.disconnect()
    for entry in qmp.log:
        print(json.dumps(entry))


asyncio.run(main(int(sys.argv[1])))
