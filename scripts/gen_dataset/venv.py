"""Runs a generator under the project's venv when the running Python lacks its client libraries.

Standard library only: it is imported before anything that needs the venv.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cache_dir():
    """$MQTT_ML_CACHE, else $XDG_CACHE_HOME/mqtt-ml, else ~/.cache/mqtt-ml (as scripts/env.sh)."""
    if os.environ.get("MQTT_ML_CACHE"):
        return os.environ["MQTT_ML_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "mqtt-ml")


def ensure_modules(script, modules, name):
    """Returns when `modules` import; otherwise installs training/requirements-gen.txt into the
    project venv (created if missing) and re-runs `script` with the same arguments under it."""
    try:
        for m in modules:
            __import__(m)
        return
    except ImportError:
        pass
    flag = f"{name.upper().replace('-', '_')}_REEXEC"
    if os.environ.get(flag):
        sys.exit(f"{name}: {', '.join(modules)} still missing in the venv; "
                 "see training/requirements-gen.txt")
    venv = os.path.join(cache_dir(), "venv")
    py = os.path.join(venv, "bin", "python")
    req = os.path.join(ROOT, "training", "requirements-gen.txt")
    if not os.path.exists(py):
        print(f"[{name}] creating {venv}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=300)
    probe = subprocess.run([py, "-c", "import " + ", ".join(modules)], capture_output=True)
    if probe.returncode != 0:
        print(f"[{name}] installing {os.path.relpath(req, ROOT)} into {venv}", flush=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "-r", req], check=True, timeout=600)
    os.environ[flag] = "1"
    os.execv(py, [py, os.path.abspath(script)] + sys.argv[1:])
