"""Which process is an instance, decided from real command lines of uvicorn, gunicorn and
multiprocessing (as sys.orig_argv / sys.argv show them)."""

import pytest

from vitalyst_otel.process_role import HELPER, SERVING, SUPERVISOR, is_forking_master, role

PY = "/venv/bin/python3"
TRACKER = [PY, "-c", "from multiprocessing.resource_tracker import main;main(7)"]
SPAWNED = [PY, "-c", "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=8, pipe_handle=12)",
           "--multiprocessing-fork"]


@pytest.mark.parametrize("argv, environ, expected", [
    (["/venv/bin/uvicorn", "app:app"], {}, SERVING),
    (["/venv/bin/uvicorn", "app:app", "--workers", "1"], {}, SERVING),
    (["/venv/bin/uvicorn", "app:app", "--workers", "2"], {}, SUPERVISOR),
    (["/venv/bin/uvicorn", "app:app", "--workers=4"], {}, SUPERVISOR),
    (["/venv/bin/uvicorn", "app:app", "--reload"], {}, SUPERVISOR),
    (["/venv/bin/uvicorn", "app:app"], {"WEB_CONCURRENCY": "3"}, SUPERVISOR),
    (["/venv/lib/python3.12/site-packages/uvicorn/__main__.py", "app:app", "--workers", "2"], {}, SUPERVISOR),
    (["/venv/bin/gunicorn", "-w", "2", "app:app"], {}, SERVING),
    (["app.py"], {"WEB_CONCURRENCY": "3"}, SERVING),
])
def test_the_command_line_tells_supervisors_from_serving_processes(argv, environ, expected):
    assert role([PY, *argv], argv, environ) == expected


def test_multiprocessing_helpers_and_spawned_children():
    assert role(TRACKER, ["-c"], {}) == HELPER
    # uvicorn's workers and its reload child are spawned with the parent's environment.
    assert role(SPAWNED, ["-c", "--multiprocessing-fork"], {"UVICORN_RELOAD": "true", "WEB_CONCURRENCY": "2"}) == SERVING


def test_a_gunicorn_master_is_recognised_and_its_workers_are_not():
    gunicorn = ["/venv/bin/gunicorn", "-w", "2", "app:app"]
    assert is_forking_master(gunicorn, parent_command="/bin/bash")
    assert not is_forking_master(gunicorn, parent_command=f"{PY} /venv/bin/gunicorn -w 2 app:app")  # a worker
    assert not is_forking_master(gunicorn, parent_command="/venv/bin/gunicorn -w 2 app:app")
    assert not is_forking_master(gunicorn, parent_command=f"{PY} -m gunicorn -w 2 app:app")
    # a parent that only mentions gunicorn (a test runner given a test's name) is no master
    assert is_forking_master(gunicorn, parent_command=f"{PY} -m pytest tests/test_servers.py::test_gunicorn_workers")
    assert not is_forking_master(["/venv/bin/uvicorn", "app:app"], parent_command="/bin/bash")
