"""The chained shutdown handler, in real processes receiving real signals (installing handlers in
the test runner itself would take over pytest's own), and the lifespan flush of the middleware."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap

from vitalyst_otel.http.server import HttpServerTelemetry, ServerTelemetryMiddleware


def _run(body: str) -> subprocess.CompletedProcess:
    code = textwrap.dedent("""
        import os, signal, sys
        from vitalyst_otel import shutdown_signals
        def shutdown():
            print("shutdown", flush=True)
    """) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)


def test_default_disposition_shuts_down_then_dies_of_the_same_signal():
    done = _run("""
        shutdown_signals.install(shutdown)
        os.kill(os.getpid(), signal.SIGTERM)
        print("survived")
    """)
    assert done.returncode == -signal.SIGTERM
    assert done.stdout.split() == ["shutdown"]


def test_a_handler_of_the_users_is_called_and_not_swallowed():
    done = _run("""
        signal.signal(signal.SIGTERM, lambda s, f: print("user handler", s, flush=True))
        shutdown_signals.install(shutdown)
        os.kill(os.getpid(), signal.SIGTERM)
        print("survived")
    """)
    assert done.returncode == 0
    assert done.stdout.splitlines() == [f"user handler {int(signal.SIGTERM)}", "survived"]


def test_an_ignored_signal_stays_ignored():
    done = _run("""
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        shutdown_signals.install(shutdown)
        os.kill(os.getpid(), signal.SIGTERM)
        print("survived")
    """)
    assert (done.returncode, done.stdout.split()) == (0, ["survived"])


def test_sigint_still_raises_keyboard_interrupt():
    done = _run("""
        shutdown_signals.install(shutdown)
        try:
            os.kill(os.getpid(), signal.SIGINT)
            signal.pause() if hasattr(signal, "pause") else None
        except KeyboardInterrupt:
            print("interrupted")
    """)
    assert (done.returncode, done.stdout.split()) == (0, ["interrupted"])


def test_installing_twice_chains_once_and_uninstall_restores():
    done = _run("""
        shutdown_signals.install(shutdown)
        first = signal.getsignal(signal.SIGTERM)
        shutdown_signals.install(shutdown)
        assert signal.getsignal(signal.SIGTERM) is first
        assert first.previous == signal.SIG_DFL
        shutdown_signals.uninstall()
        print(signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)
    """)
    assert done.stdout.split() == ["True"], done.stderr


def test_configure_chains_the_handler_and_a_server_restoring_it_still_flushes():
    """What uvicorn does: install its own handler, restore the one it found, raise the signal again."""
    done = _run("""
        import vitalyst_otel
        handle = vitalyst_otel.configure(traces_exporter="none", metrics_exporter="none", logs_exporter="none")
        handle.shutdown = shutdown
        ours = signal.getsignal(signal.SIGTERM)
        ours.shutdown = shutdown
        found = signal.signal(signal.SIGTERM, lambda s, f: None)  # the server's
        os.kill(os.getpid(), signal.SIGTERM)  # handled by the server
        signal.signal(signal.SIGTERM, found)
        signal.raise_signal(signal.SIGTERM)
        print("survived")
    """)
    assert done.returncode == -signal.SIGTERM, done.stderr
    assert "shutdown" in done.stdout.split() and "survived" not in done.stdout


def test_lifespan_shutdown_flushes_before_the_server_hears_of_it():
    events = []

    async def app(scope, receive, send):
        message = await receive()
        assert message["type"] == "lifespan.shutdown"
        await send({"type": "lifespan.shutdown.complete"})

    telemetry = HttpServerTelemetry(on_stopping=lambda: events.append("flushed"))
    middleware = ServerTelemetryMiddleware(app, telemetry)

    async def receive():
        return {"type": "lifespan.shutdown"}

    async def send(message):
        events.append(message["type"])

    asyncio.run(middleware({"type": "lifespan"}, receive, send))
    assert events == ["flushed", "lifespan.shutdown.complete"]


def test_configure_wires_the_lifespan_flush_to_the_handle():
    done = _run("""
        import vitalyst_otel
        handle = vitalyst_otel.configure(traces_exporter="none", metrics_exporter="none", logs_exporter="none")
        flushed = []
        handle.force_flush = lambda timeout: flushed.append(timeout) or True
        handle._parts.http.on_stopping()
        print(flushed)
    """)
    assert done.stdout.split() == ["[5.0]"], done.stderr
