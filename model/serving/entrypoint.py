"""`seldon-core-microservice`, stopping cleanly on SIGTERM: the serving image's entry point.

    python -m model.serving.entrypoint model.serving.seldon_model.RankshipRanker --service-type MODEL ...

Same arguments as `seldon-core-microservice` (it runs its `main`). Why not that script itself: Seldon 1.17.1
runs the REST server (gunicorn) in its main process and forks the gRPC server and the metrics server. On
SIGTERM (Kubernetes signals only PID 1) gunicorn stops, but the forked gRPC worker never hears of it and the
main process then waits for it at exit: the gRPC port keeps listening until the kubelet's SIGKILL, which
drops whatever is in flight.

Here the main process only supervises. Every server runs in its own child; on SIGTERM or SIGINT the
supervisor signals the REST and gRPC servers at once: gunicorn stops accepting and lets each worker finish
its request (graceful_timeout = RANKSHIP_DRAIN_SECONDS), each gRPC worker calls `server.stop(grace)` (new
RPCs refused, those in flight finish). The metrics server stops last, so the final counts can still be
scraped. Whatever is still running `drain + 5` s after the signal is killed. Exit status: 0 when every
server stopped by itself, 1 otherwise; a server that dies on its own also stops the others (exit 1), so
Kubernetes restarts the container instead of serving half a model.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from seldon_core import gunicorn_utils, microservice

from model.serving.settings import ServingSettings

log = logging.getLogger("rankship.entrypoint")
KILL_MARGIN_S = 5.0
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopFlag:
    """Set by SIGTERM/SIGINT; read by polling loops. The handler takes no lock and runs its action once.

    Python runs a signal handler in the main thread between two bytecodes, possibly inside a lock that
    thread holds: a handler calling `threading.Event.set` deadlocks when the signal lands while the main
    thread is inside `Event.wait`'s or `Event.set`'s own lock, e.g. when a gRPC worker gets SIGTERM from
    a process-group kill and again from its parent's forward (measured: a worker hung for minutes).
    So the handler only appends to a list, and loops poll it.
    """

    POLL_S = 0.1

    def __init__(self, action: Callable[[], None] | None = None) -> None:
        self._fired: list[int] = []
        self._action = action

    def install(self) -> StopFlag:
        for sig in _STOP_SIGNALS:
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        first = not self._fired
        self._fired.append(signum)
        if first and self._action is not None:
            self._action()

    def __bool__(self) -> bool:
        return bool(self._fired)

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until the flag is set or `timeout` passes; True when set."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._fired:
            left = self.POLL_S if deadline is None else min(self.POLL_S, deadline - time.monotonic())
            if left <= 0:
                return False
            time.sleep(left)
        return True


def _grpc_worker_wait(drain_s: float) -> Callable[[Any], None]:
    """Replaces Seldon's `_wait_forever(server)` in each gRPC worker: wait for a stop signal, then drain."""

    def wait(server: Any) -> None:
        StopFlag().install().wait()
        server.stop(grace=drain_s).wait()

    return wait


def _grpc_parent(target: Callable[[], None]) -> Callable[[], None]:
    """The gRPC parent forks the workers and joins them; the first stop signal is passed on to each."""

    def run() -> None:
        def forward() -> None:
            for child in microservice.mp.active_children():
                os.kill(child.pid, signal.SIGTERM)

        StopFlag(forward).install()
        target()

    return run


class Supervisor:
    """The servers as child processes; stops them together and in bounded time."""

    def __init__(self, drain_s: float) -> None:
        self.drain_s = drain_s
        self.stopping = StopFlag()
        self.children: dict[str, Any] = {}

    def start(self, name: str, target: Callable[[], None]) -> None:
        child = microservice.mp.Process(target=target, name=name, daemon=False)
        child.start()
        self.children[name] = child

    def run(self) -> int:
        # Returns when asked to stop, or as soon as any server dies on its own.
        while not self.stopping.wait(0.5):
            if any(not c.is_alive() for c in self.children.values()):
                dead = [n for n, c in self.children.items() if not c.is_alive()]
                log.error("server %s exited on its own; stopping the others", dead)
                return max(self.stop(), 1)
        return self.stop()

    def stop(self) -> int:
        start = time.monotonic()
        deadline = start + self.drain_s + KILL_MARGIN_S
        serving = [c for n, c in self.children.items() if n != "metrics"]
        clean = self._stop(serving, deadline)
        # Metrics last: counts of the requests that just drained can still be scraped.
        clean &= self._stop([c for n, c in self.children.items() if n == "metrics"], deadline)
        log.info("stopped in %.1f s (%s)", time.monotonic() - start, "clean" if clean else "killed")
        return 0 if clean else 1

    @staticmethod
    def _stop(children: list[Any], deadline: float) -> bool:
        for child in children:
            if child.is_alive():
                os.kill(child.pid, signal.SIGTERM)
        clean = True
        for child in children:
            child.join(max(0.0, deadline - time.monotonic()))
            if child.is_alive():
                clean = False
                child.kill()
                child.join(5)
        return clean


def start_servers(drain_s: float) -> Callable[..., None]:
    """Replaces Seldon's `start_servers(rest, grpc, custom, metrics)`; the process exits with its status."""

    def start(
        rest: Callable[[], None],
        grpc: Callable[[], None] | None,
        custom: Callable[[], None] | None,
        metrics: Callable[[], None] | None,
    ) -> None:
        supervisor = Supervisor(drain_s)
        # Before the first fork: a SIGTERM during start-up must not kill the supervisor alone.
        supervisor.stopping.install()
        for name, target in (("rest", rest), ("grpc", grpc), ("custom", custom), ("metrics", metrics)):
            if target is not None:
                supervisor.start(name, _grpc_parent(target) if name == "grpc" else target)
        sys.exit(supervisor.run())

    return start


def _graceful_config(drain_s: int) -> Callable[[Any], None]:
    original = gunicorn_utils.StandaloneApplication.load_config

    def load_config(self: Any) -> None:
        original(self)
        # gunicorn's own default is 30 s; the drain bound must stay below Kubernetes' grace period.
        self.cfg.set("graceful_timeout", drain_s)

    return load_config


def main() -> None:
    drain_s = ServingSettings.from_env(os.environ).drain_seconds
    # Seldon 1.17.1 offers no hook for any of these; the version is pinned (requirements.txt), and
    # tests/model/serving/test_shutdown.py runs the real servers through them.
    microservice._wait_forever = _grpc_worker_wait(drain_s)
    microservice.start_servers = start_servers(drain_s)
    gunicorn_utils.StandaloneApplication.load_config = _graceful_config(drain_s)  # type: ignore[method-assign]
    microservice.main()


if __name__ == "__main__":
    main()
