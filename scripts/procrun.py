#!/usr/bin/env python3
"""Run the processes of a Procfile together, as `make run` needs it (replaces honcho).

    procrun.py Procfile [--ready-url URL] [--ready-message TEXT] [--stop-last NAME ...]

Each line `name: command` runs through bash (so `$VAR` and `${VAR:-default}` expand) in a process group of its
own, its output prefixed with the name. Why not honcho: on Ctrl-C the terminal sent SIGINT to every process at
once, so each printed its own KeyboardInterrupt traceback, and honcho then reported the SIGTERM it sent as
`Error 143`. Here only procrun gets the terminal's signal (the children are in their own groups); it sends each
process SIGTERM once, waits up to STOP_SECONDS, kills what is left, and says plainly what stopped. A process that
ends by itself (a crash) stops the others and sets the exit status.

With --ready-url, once that URL answers (any HTTP status) and the start-up output has gone quiet, procrun prints
--ready-message: the URL and the logins end up below the start-up logs instead of scrolled away above them.
--stop-last names processes stopped only after the others have (the simulated PLC, so the drivers worker does
not log a lost connection while it stops).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

STOP_SECONDS = 10
COLOURS = ["36", "33", "32", "35", "34", "96", "93"]


def parse_procfile(path: str) -> list[tuple[str, str]]:
    """[(name, command)] in file order; blank lines and # comments skipped."""
    entries = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line)
            if not m:
                raise SystemExit(f"procrun: cannot read Procfile line: {line!r}")
            entries.append((m.group(1), m.group(2)))
    return entries


class Runner:
    def __init__(self, entries: list[tuple[str, str]]):
        self.entries = entries
        self.procs: dict[str, subprocess.Popen] = {}
        self.width = max(len(n) for n, _ in entries)
        self.lock = threading.Lock()
        self.stopping = False
        self.tty = sys.stdout.isatty()
        self.failed: tuple[str, int] | None = None
        self.last_output = time.monotonic()

    def say(self, name: str, text: str, colour: str = "1") -> None:
        label = f"{time.strftime('%H:%M:%S')} {name.ljust(self.width)} | "
        if self.tty:
            label = f"\033[{colour}m{label}\033[0m"
        with self.lock:
            self.last_output = time.monotonic()
            sys.stdout.write(label + text + "\n")
            sys.stdout.flush()

    def banner(self, text: str) -> None:
        with self.lock:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
            sys.stdout.flush()

    def _pump(self, name: str, proc: subprocess.Popen, colour: str) -> None:
        for raw in iter(proc.stdout.readline, b""):
            self.say(name, raw.decode(errors="replace").rstrip("\n"), colour)

    def start(self) -> None:
        for i, (name, command) in enumerate(self.entries):
            proc = subprocess.Popen(  # noqa: S603 - the repository's own Procfile
                ["/bin/bash", "-c", "exec " + command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,  # its own group: the terminal's ^C is ours alone
            )
            self.procs[name] = proc
            colour = COLOURS[i % len(COLOURS)]
            self.say(name, f"started (pid {proc.pid})", colour)
            threading.Thread(target=self._pump, args=(name, proc, colour), daemon=True).start()

    def watch(self) -> None:
        """Until asked to stop, or until one process ends by itself."""
        while not self.stopping:
            for name, proc in self.procs.items():
                code = proc.poll()
                if code is not None and not self.stopping:
                    self.say("procrun", f"{name} ended by itself (exit status {code}); stopping the others")
                    self.failed = (name, code)
                    return
            time.sleep(0.2)

    def stop(self, last: tuple[str, ...] = ()) -> None:
        self.stopping = True
        first = [n for n in self.procs if n not in last]
        self._stop_group(first)
        self._stop_group([n for n in self.procs if n in last])
        time.sleep(0.1)  # let the output threads print the last lines

    def _stop_group(self, names: list[str]) -> None:
        for name in names:
            proc = self.procs[name]
            if proc.poll() is None:
                # The process itself, not its group: Celery's warm shutdown stops its own pool children; a
                # SIGTERM straight to them is a WorkerLostError traceback.
                proc.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        for name in names:
            proc = self.procs[name]
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say("procrun", f"{name} did not stop within {STOP_SECONDS} s: killed")
            try:  # the group may still hold a child (celery's pool): nothing of it may outlive us
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def wait_ready(runner: Runner, url: str, message: str, quiet: float = 2.0, longest: float = 30.0) -> None:
    """Print `message` once `url` answers and the processes' start-up output has paused for `quiet` seconds."""
    while not runner.stopping:
        try:
            urllib.request.urlopen(url, timeout=2).close()  # noqa: S310 - our own loopback URL
        except urllib.error.HTTPError:
            pass  # any answer means the web process is up
        except OSError:
            time.sleep(0.5)
            continue
        break
    end = time.monotonic() + longest
    while not runner.stopping and time.monotonic() < end and time.monotonic() - runner.last_output < quiet:
        time.sleep(0.2)
    if not runner.stopping:
        runner.banner(message)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("procfile")
    ap.add_argument("--ready-url")
    ap.add_argument("--ready-message", default="")
    ap.add_argument("--stop-last", nargs="*", default=[])
    args = ap.parse_args(argv)
    runner = Runner(parse_procfile(args.procfile))
    stop_asked = threading.Event()

    def on_signal(signum, frame):
        if not runner.stopping:
            stop_asked.set()
            runner.stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    runner.start()
    if args.ready_url:
        threading.Thread(target=wait_ready, args=(runner, args.ready_url, args.ready_message), daemon=True).start()
    runner.watch()
    if stop_asked.is_set():
        sys.stdout.write("\n")
        runner.say("procrun", "stopping: " + ", ".join(runner.procs))
    runner.stop(tuple(args.stop_last))
    if runner.failed:
        runner.say("procrun", "stopped; " + f"{runner.failed[0]} had failed (exit status {runner.failed[1]})")
        return 1
    runner.say("procrun", "all stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
