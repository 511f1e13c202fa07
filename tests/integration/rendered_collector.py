"""Run what the chart renders for a collector container, outside Kubernetes: its ConfigMap and
Secret volumes become files under a directory, its --config arguments and environment are kept
as rendered, with only the paths moved under that directory and the values the kubelet would
fill in (downward API, Secret keys) given test values, and a kubeconfig in place of the pod's
service account."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

NODE_NAME = "node-1"
SECRET_VALUE = "test-secret-value"
# Outside a pod there is no service account: a kubeconfig stands in for it (the file says why).
SERVICE_ACCOUNT_STAND_IN = {
    "VITALYST_K8S_AUTH_TYPE": "kubeConfig",
    "KUBECONFIG": str(Path(__file__).resolve().parents[1] / "support" / "kubeconfig-stand-in.yaml"),
}


@dataclass(frozen=True)
class Container:
    args: list[str]
    env: dict[str, str]


def _by_name(docs: list[dict], kind: str, name: str) -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def _volume_files(docs: list[dict], volume: dict) -> dict[str, str]:
    if "configMap" in volume:
        data = _by_name(docs, "ConfigMap", volume["configMap"]["name"])["data"]
        items = volume["configMap"].get("items") or [{"key": k, "path": k} for k in data]
        return {item["path"]: data[item["key"]] for item in items}
    if "secret" in volume:  # a Secret the operator creates: each key holds a test value
        return {item["path"]: SECRET_VALUE for item in volume["secret"].get("items", [])} or {"token": SECRET_VALUE}
    return {}  # emptyDir, hostPath: an empty directory


def materialise(docs: list[dict], kind: str, name: str, root: Path, container: str = "otelcol") -> Container:
    """Write the container's volumes under ``root`` and return its arguments and environment
    with every mounted path moved there."""
    pod = _by_name(docs, kind, name)["spec"]["template"]["spec"]
    spec = next(c for c in pod["containers"] if c["name"] == container)
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    moves: list[tuple[str, str]] = []
    for mount in spec.get("volumeMounts", []):
        target = root / mount["mountPath"].lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        for rel, content in _volume_files(docs, volumes[mount["name"]]).items():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_text(content)
        moves.append((mount["mountPath"], str(target)))
    moves.sort(key=lambda m: -len(m[0]))

    def moved(value: str) -> str:
        for mount_path, local in moves:
            if value.startswith(mount_path):
                return local + value[len(mount_path):]
        return value

    env: dict[str, str] = {}
    for var in spec.get("env", []):
        if "value" in var:
            env[var["name"]] = moved(str(var["value"]))
        elif var["valueFrom"].get("fieldRef", {}).get("fieldPath") == "spec.nodeName":
            env[var["name"]] = NODE_NAME
        elif "secretKeyRef" in var["valueFrom"]:
            env[var["name"]] = SECRET_VALUE
        else:
            raise AssertionError(f"no test value for {var}")
    args = []
    for arg in spec.get("args", []):
        flag, _, value = arg.partition("=")
        args.append(f"{flag}={moved(value)}" if value else arg)
    return Container(args, {**env, **SERVICE_ACCOUNT_STAND_IN})
