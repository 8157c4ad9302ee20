"""Commands on a non-blocking standard input, one a line, for bridge.py and peer.py."""
import os

MAX_PENDING = 4096


class LineReader:
    def __init__(self, fd):
        self.fd = fd
        self.pending = b""
        os.set_blocking(fd, False)

    def read(self):
        """The complete lines that have arrived (stripped), or None once the input has ended."""
        chunk = os.read(self.fd, 4096)
        if not chunk:
            return None
        self.pending += chunk
        lines = []
        while b"\n" in self.pending:
            line, self.pending = self.pending.split(b"\n", 1)
            lines.append(line.decode(errors="replace").strip())
        # A line longer than any command is noise: keep memory bounded.
        if len(self.pending) > MAX_PENDING:
            self.pending = b""
        return lines
