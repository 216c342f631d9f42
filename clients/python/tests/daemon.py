"""Starts the real photonicd for a test: on a Unix socket in a temporary
directory, on the simulated 8x8 chip (or a given config), waiting for its
'listening on' line, stopped with SIGTERM."""
import os
import subprocess
import tempfile
import threading


class Daemon:
    def __init__(self, config=None, listen=None, extra_args=()):
        source = os.environ["PHC_SOURCE_DIR"]
        self.dir = tempfile.TemporaryDirectory(prefix="photonicd_py_")
        config = config or os.path.join(source, "deploy", "photonicd.textproto")
        listen = listen or "unix:" + os.path.join(self.dir.name, "photonicd.sock")
        self.process = subprocess.Popen(
            [os.environ["PHOTONICD"], "--config", config, "--listen", listen,
             "--state-dir", os.path.join(self.dir.name, "state"), *extra_args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("photonicd: listening on "):
            self.process.kill()
            raise RuntimeError(f"photonicd did not start: {line!r}")
        self.address = line.split("listening on ", 1)[1].strip()

    def stop(self):
        self.process.terminate()
        code = self.process.wait(timeout=30)
        self.dir.cleanup()
        return code


def http_address(daemon, timeout_s=30):
    """The HTTP port's host:port, from the second line the daemon prints with
    --http-listen ('photonicd: http on HOST:PORT'; Daemon reads only the
    first). Read on a thread so that a missing line fails in bounded time."""
    lines = []
    reader = threading.Thread(target=lambda: lines.append(daemon.process.stdout.readline()),
                              daemon=True)
    reader.start()
    reader.join(timeout_s)
    line = lines[0] if lines else ""
    if not line.startswith("photonicd: http on "):
        raise RuntimeError(f"photonicd printed no http address: {line!r}")
    return line.split("http on ", 1)[1].strip()
