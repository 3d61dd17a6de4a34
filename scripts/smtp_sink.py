"""A small SMTP sink for the tests (scripts/with-smtp.sh): accepts every message on a loopback
port and writes each to DIR/<n>.eml, raw as received, after one `X-Sink-Rcpt-To:` line per
envelope recipient. Usage: python smtp_sink.py DIR PORT"""
import itertools
import os
import signal
import sys
import time

from aiosmtpd.controller import Controller

DIR, PORT = sys.argv[1], int(sys.argv[2])
COUNTER = itertools.count()


class Sink:
    async def handle_DATA(self, server, session, envelope):
        n = next(COUNTER)
        name = os.path.join(DIR, f"{time.time_ns()}-{os.getpid()}-{n}.eml")
        head = "".join(f"X-Sink-Rcpt-To: {r}\r\n" for r in envelope.rcpt_tos)
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        tmp = name + ".tmp"
        with open(tmp, "wb") as f:
            f.write(head.encode("ascii") + data)
        os.replace(tmp, name)  # readers never see half a message
        return f"250 2.0.0 Ok: queued as sink-{n}"


controller = Controller(Sink(), hostname="127.0.0.1", port=PORT)
controller.start()
print(f"SMTP sink on 127.0.0.1:{PORT}, writing to {DIR}", file=sys.stderr, flush=True)


def handle(*_):
    controller.stop()
    sys.exit(0)


signal.signal(signal.SIGTERM, handle)
signal.signal(signal.SIGINT, handle)
while True:
    time.sleep(3600)
