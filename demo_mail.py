"""The demo's local mailbox: a tiny SMTP server on loopback that keeps alert emails.

``run.py --demo`` points ``MAIL_SERVER`` at it, so the alerts a sync finds (a new grade, a
course grade that moved, something due soon) arrive as real email: each one's subject is
printed in the demo's terminal and the whole message is appended to ``instance/demo-mail.txt``.
Only what the app's mailer speaks is understood (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
QUIT); it accepts mail for anyone and sends nothing on. Standard library only, so the demo needs
nothing beyond ``requirements.txt``.
"""

from __future__ import annotations

import socketserver
import sys
import threading
from email import message_from_bytes, policy
from pathlib import Path


class _Session(socketserver.StreamRequestHandler):
    server: DemoMailbox

    def _reply(self, line: str) -> None:
        self.wfile.write((line + "\r\n").encode())

    def handle(self) -> None:
        self._reply("220 gradesync-demo-mailbox ready")
        while True:
            raw = self.rfile.readline(4096)
            if not raw:
                return
            command = raw.decode("utf-8", "replace").strip()
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self._reply("250-gradesync-demo-mailbox")
                self._reply("250 8BITMIME")
            elif verb in ("HELO", "MAIL", "RCPT", "RSET", "NOOP"):
                self._reply("250 OK")
            elif verb == "DATA":
                self._reply("354 End data with <CR><LF>.<CR><LF>")
                self.server.deliver(self._read_data())
                self._reply("250 Message accepted")
            elif verb == "QUIT":
                self._reply("221 Bye")
                return
            else:
                self._reply("502 Command not implemented")

    def _read_data(self) -> bytes:
        lines: list[bytes] = []
        while True:
            line = self.rfile.readline(65536)
            if not line or line in (b".\r\n", b".\n"):
                return b"".join(lines)
            lines.append(line[1:] if line.startswith(b"..") else line)


class DemoMailbox(socketserver.ThreadingTCPServer):
    """The SMTP server; ``port`` is where ``MAIL_PORT`` points."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mailbox: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Session)
        self.mailbox = mailbox
        self.port = int(self.server_address[1])
        self.received = 0
        self._lock = threading.Lock()

    def deliver(self, content: bytes) -> None:
        message = message_from_bytes(content, policy=policy.default)
        with self._lock:
            self.received += 1
            self.mailbox.parent.mkdir(parents=True, exist_ok=True)
            with self.mailbox.open("ab") as out:
                out.write(content + b"\n\n")
        sys.stdout.write(f"Alert email to {message.get('To')}: {message.get('Subject')}  "
                         f"(in {self.mailbox})\n")
        sys.stdout.flush()

    def start(self) -> DemoMailbox:
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2},
                         name="demo-mailbox", daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
