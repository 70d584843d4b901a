"""Sandbox peers in their own OS processes: ``python -m slskdn.soulseek.sandbox_host``.

One process hosts one or more peers on its own asyncio loop, so peers no longer share the
downloader's loop and GIL. The parent (``PeerHost``) talks to it over the child's stdin and
stdout, one JSON object a line:

- parent → child, first line: ``{"server": [host, port], "requeue_interval": s,
  "peers": [{"spec": PeerSpec.to_json(), "share": dir, "downloads": dir}, ...]}``;
- child → parent: ``{"ready": {name: {"listen_port": p, "shares": {absolute: remote}}}}``
  once every peer is logged in, or ``{"error": reason}`` and exit 1;
- parent → child: ``{"kill": name}``, answered by ``{"killed": name}`` once that peer has
  left the network (a host of one peer is SIGKILLed instead: its sockets die with it);
- end of stdin (the parent closed it, or died): the child logs its peers out and exits 0.

Its logs go to the stderr file the parent gives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from slskdn.logs import get_logger

from .client import SoulseekSession
from .sandbox_peer import PeerSpec, remote_paths, start_peer

log = get_logger(__name__)

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


class HostError(Exception):
    """A peer host process failed to start or to answer."""


class PeerHost:
    """The parent's handle on one peer process. Use on one asyncio loop."""

    def __init__(self, index: int, peers: Sequence[tuple[PeerSpec, Path, Path]],
                 server: tuple[str, int], *, requeue_interval: float, log_path: Path) -> None:
        self.index = index
        self.specs = {spec.name: spec for spec, _, _ in peers}
        self._setup = {"server": list(server), "requeue_interval": requeue_interval,
                       "peers": [{"spec": spec.to_json(), "share": str(share),
                                  "downloads": str(downloads)}
                                 for spec, share, downloads in peers]}
        self.log_path = log_path
        self.online: set[str] = set()
        self.listen_ports: dict[str, int] = {}
        self._shares: dict[str, dict[str, str]] = {}
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._cpu_at_exit: float | None = None
        self.log = log.bind(host=index)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as stderr:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "slskdn.soulseek.sandbox_host",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=stderr)
        ready = self._expect("ready")
        self._reader = asyncio.get_running_loop().create_task(self._read_replies())
        self._send(self._setup)
        try:
            async with asyncio.timeout(START_TIMEOUT):
                reply = await ready
        except TimeoutError:
            await self.stop()
            raise HostError(f"peer host {self.index} did not start within {START_TIMEOUT:.0f} s;"
                            f" see {self.log_path}") from None
        except HostError:
            await self.stop()
            raise
        for name, info in reply["ready"].items():
            self.listen_ports[name] = int(info["listen_port"])
            self._shares[name] = dict(info["shares"])
        self.online = set(self.specs)
        self.log.info("peer host up", pid=self.pid, peers=sorted(self.online))

    def remote_path(self, peer: str, absolute: str) -> str:
        try:
            return self._shares[peer][absolute]
        except KeyError:
            raise KeyError(f"{peer} does not share {absolute}") from None

    async def kill(self, name: str) -> None:
        """Take ``name`` off the network now (SIGKILL when it is this host's only peer)."""
        if name not in self.online:
            raise KeyError(f"{name} is not online in peer host {self.index}")
        proc = self._proc
        assert proc is not None
        if len(self.online) == 1:
            self._cpu_at_exit = process_cpu_seconds(proc.pid)
            proc.kill()
            await proc.wait()
        else:
            reply = self._expect("killed", name)
            self._send({"kill": name})
            async with asyncio.timeout(STOP_TIMEOUT):
                await reply
        self.online.discard(name)
        self.log.info("peer killed", peer=name)

    def cpu_seconds(self) -> float | None:
        """CPU (user + system) this host used so far; its last reading once it exited."""
        if self._proc is not None and self._proc.returncode is None:
            return process_cpu_seconds(self._proc.pid)
        return self._cpu_at_exit

    async def stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None:
            self._cpu_at_exit = process_cpu_seconds(proc.pid)
            if proc.stdin is not None:
                proc.stdin.close()  # the child logs out and exits
            try:
                async with asyncio.timeout(STOP_TIMEOUT):
                    await proc.wait()
            except TimeoutError:
                self.log.warning("peer host did not exit; killing it", pid=proc.pid)
                proc.kill()
                await proc.wait()
        if self._reader is not None:
            await self._reader
        self.online.clear()

    def _send(self, message: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(message).encode() + b"\n")

    def _expect(self, kind: str, name: str = "") -> asyncio.Future[dict[str, Any]]:
        future = asyncio.get_running_loop().create_future()
        self._replies[f"{kind}:{name}"] = future
        return future

    async def _read_replies(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        while line := await self._proc.stdout.readline():
            try:
                message = json.loads(line)
                kind = next(iter(message))
            except (ValueError, StopIteration):
                self.log.warning("unreadable line from peer host", line=line[:200])
                continue
            key = f"{kind}:{message[kind] if kind == 'killed' else ''}"
            if kind == "error":
                key = "ready:"
            future = self._replies.pop(key, None)
            if future is None or future.done():
                continue
            if kind == "error":
                future.set_exception(HostError(f"peer host {self.index}: {message['error']}"))
            else:
                future.set_result(message)
        for future in self._replies.values():  # the child is gone: nobody will answer
            if not future.done():
                future.set_exception(HostError(f"peer host {self.index} exited; "
                                               f"see {self.log_path}"))
        self._replies.clear()


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a live process, from /proc (None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the ")" that ends the command name, utime and stime are the 12th and 13th fields.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the child ----------------------------------------------------------------------------------


async def _host(setup: dict[str, Any], stdin: asyncio.StreamReader, out: IO[str]) -> None:
    host, port = setup["server"]
    sessions: dict[str, SoulseekSession] = {}

    def say(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    try:
        for entry in setup["peers"]:
            spec = PeerSpec.from_json(entry["spec"])
            sessions[spec.name] = await start_peer(
                spec, (host, int(port)), Path(entry["share"]), Path(entry["downloads"]),
                requeue_interval=float(setup["requeue_interval"]))
    except Exception as exc:
        say({"error": f"{type(exc).__name__}: {exc}"})
        await asyncio.gather(*(s.stop() for s in sessions.values()), return_exceptions=True)
        raise SystemExit(1) from exc
    say({"ready": {name: {"listen_port": s.listen_port, "shares": remote_paths(s)}
                   for name, s in sessions.items()}})
    try:
        while line := await stdin.readline():
            name = json.loads(line).get("kill")
            session = sessions.pop(name, None)
            if session is not None:
                await session.stop()
                say({"killed": name})
    finally:
        await asyncio.gather(*(s.stop() for s in sessions.values()), return_exceptions=True)


def _dump_tasks() -> None:
    """SIGUSR1: where every task of this host waits, into its log (a stuck peer, say)."""
    import io

    for task in asyncio.all_tasks():
        stack = io.StringIO()
        task.print_stack(file=stack)
        log.info("task", task=task.get_name(), stack=stack.getvalue())


async def _main() -> None:
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):  # like end of stdin: log out, exit
        loop.add_signal_handler(sig, task.cancel)
    loop.add_signal_handler(signal.SIGUSR1, _dump_tasks)
    first = await stdin.readline()
    if not first:
        return
    with contextlib.suppress(asyncio.CancelledError):  # SIGINT/SIGTERM: a normal end
        await _host(json.loads(first), stdin, sys.stdout)


def main() -> None:
    from slskdn.logs import configure_logging

    configure_logging(log_format="json")
    if os.environ.get("SLSKDN_SANDBOX_DEBUG"):  # aioslsk's message-level log, for debugging
        import logging

        logging.getLogger().setLevel(logging.DEBUG)
        logging.getLogger("aioslsk").setLevel(logging.DEBUG)
    asyncio.run(_main())


if __name__ == "__main__":
    main()
