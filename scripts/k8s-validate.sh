#!/usr/bin/env bash
# `make k8s-validate`: render every overlay with `kubectl kustomize` (kustomize is
# built into kubectl), validate each object strictly against the Kubernetes schemas
# of every version from KUBE_MIN_VERSION (default 1.29) to the newest bundled one
# (kubernetes-validate, offline), then check what is ours to keep: probes on the
# declared ports, pod hardening, and references to ConfigMaps and Secrets that are
# either rendered or documented as created by the operator.
# K8S_RENDER_DIR=path keeps the rendered manifests there.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v kubectl >/dev/null || { echo "k8s-validate: kubectl is required (kustomize is built into it)" >&2; exit 1; }
if ! python3 -c 'import kubernetes_validate, yaml' 2>/dev/null; then
    echo "k8s-validate: installing kubernetes-validate" >&2
    python3 -m pip install --quiet --disable-pip-version-check kubernetes-validate
fi

out=${K8S_RENDER_DIR:-$(mktemp -d)}
mkdir -p "$out"
for overlay in k8s/overlays/*/; do
    name=$(basename "$overlay")
    kubectl kustomize "$overlay" > "$out/$name.yaml"
    echo "k8s-validate: rendered $overlay ($(grep -c '^kind:' "$out/$name.yaml") objects)"
done

exec python3 - "$out" "${KUBE_MIN_VERSION:-1.29}" <<'PY'
import glob, os, sys
import yaml
from packaging.version import Version
import kubernetes_validate
from kubernetes_validate import utils as kv

out, min_version = sys.argv[1], Version(sys.argv[2])
# Created by the operator before applying (k8s/README.md), not rendered here.
EXTERNAL = {("Secret", "roster-secrets"), ("Secret", "roster-session-keys"),
            ("Secret", "roster-service-keys"), ("ConfigMap", "roster-public-keys")}
versions = sorted({Version(v) for v in kv.all_versions()})
versions = [str(v) for v in versions if v >= min_version]
problems = []

def pod_spec(obj):
    spec = obj.get("spec", {})
    if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return spec.get("template", {}).get("spec", {})
    return None

for path in sorted(glob.glob(os.path.join(out, "*.yaml"))):
    overlay = os.path.basename(path)
    objects = [o for o in yaml.safe_load_all(open(path)) if o]
    rendered = {(o["kind"], o["metadata"]["name"]) for o in objects}
    for obj in objects:
        where = f"{overlay}: {obj['kind']}/{obj['metadata']['name']}"
        for version in versions:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                problems.append(f"{where}: not valid for Kubernetes {version}: {e.message}")
                break
        spec = pod_spec(obj)
        if spec is None:
            continue
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: automountServiceAccountToken must be false")
        pod_sc = spec.get("securityContext", {})
        if not pod_sc.get("runAsNonRoot") or pod_sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{where}: pods run as non-root with the RuntimeDefault seccomp profile")
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for c in spec.get("containers", []):
            sc = c.get("securityContext", {})
            if sc.get("allowPrivilegeEscalation") is not False or not sc.get("readOnlyRootFilesystem") \
                    or sc.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{where}/{c['name']}: containers drop ALL capabilities, "
                                "forbid privilege escalation and have a read-only root filesystem")
            if "resources" not in c or "limits" not in c["resources"]:
                problems.append(f"{where}/{c['name']}: resources need requests and limits")
            ports = {p["containerPort"] for p in c.get("ports", [])} | {p.get("name") for p in c.get("ports", [])}
            if obj["kind"] != "Job":
                for probe in ("readinessProbe", "livenessProbe"):
                    p = c.get(probe)
                    if not p:
                        problems.append(f"{where}/{c['name']}: {probe} missing")
                        continue
                    port = (p.get("grpc") or p.get("httpGet") or p.get("tcpSocket") or {}).get("port")
                    if port not in ports:
                        problems.append(f"{where}/{c['name']}: {probe} probes port {port}, not a declared port")
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    problems.append(f"{where}/{c['name']}: mounts undeclared volume {m['name']}")
            for env in c.get("envFrom", []):
                for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if key in env and (kind, env[key]["name"]) not in rendered | EXTERNAL:
                        problems.append(f"{where}: {kind} {env[key]['name']} is neither rendered nor documented")
        for v in volumes.values():
            for kind, key, field in (("ConfigMap", "configMap", "name"), ("Secret", "secret", "secretName")):
                if key in v and (kind, v[key][field]) not in rendered | EXTERNAL:
                    problems.append(f"{where}: volume {v['name']} needs {kind} {v[key][field]}, neither rendered nor documented")
    for obj in objects:
        if obj["kind"] == "Service":
            selector = obj["spec"].get("selector", {})
            if not any(o["kind"] == "Deployment" and all(
                    o["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in selector.items())
                    for o in objects):
                problems.append(f"{overlay}: Service/{obj['metadata']['name']} selects no Deployment's pods")

if problems:
    print("\n".join(f"k8s-validate: {p}" for p in problems), file=sys.stderr)
    sys.exit(1)
print(f"k8s-validate: every object valid for Kubernetes {versions[0]}–{versions[-1]}; probes, hardening and references checked")
PY
