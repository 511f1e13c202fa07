"""What configure() must not import with its defaults (each costs RSS in every process: see
docs/performance.md, "RSS: runtime metrics without contrib's instrumentor and without psutil"):
psutil (not installed on Linux; the SDK imports it whenever it is), contrib's system-metrics
instrumentor, packaging (needed only when an instrumentor activates) and difflib (only for an
unknown variable)."""

import json
import os
import subprocess
import sys

CHILD = r"""
import json, os, sys

class NotInstalled:  # psutil is no dependency on Linux: as a plain install has it
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "psutil":
            raise ModuleNotFoundError(name)

sys.meta_path.insert(0, NotInstalled())
os.environ.update(OTEL_SERVICE_NAME="imports", OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
                  OTEL_LOGS_EXPORTER="otlp")
from fastapi import FastAPI
import vitalyst_otel

before = set(sys.modules)
handle = vitalyst_otel.configure(app=FastAPI())
loaded = sorted(set(sys.modules) - before)
handle.shutdown(1.0)
print(json.dumps(loaded))
"""
NOT_IMPORTED = ("psutil", "opentelemetry.instrumentation.system_metrics", "packaging", "difflib")


def test_configure_with_defaults_imports_none_of_the_costly_modules():
    # the defaults: none of the shell's telemetry variables (an unknown one would import difflib)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL", "VITALYST_", "OTLP_"))}
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120, env=environ)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert any(name.startswith("vitalyst_otel.") for name in loaded)  # configure() did run here
    costly = [name for name in loaded if name.startswith(NOT_IMPORTED)]
    assert costly == []
