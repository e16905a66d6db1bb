#!/usr/bin/env bash
# `make k8s-validate`: check the Kubernetes manifests offline, without kubectl or a cluster.
#
#   scripts/k8s-validate.sh [DIR…]     (default: k8s)
#
# For every kustomization under DIR it checks that the listed resources exist, renders
# it with the small kustomize subset below (resources, namespace, images, replicas,
# patches as strategic merge, labels/commonLabels, commonAnnotations; anything else is
# an error), validates every rendered object with kubernetes-validate in strict mode
# against each bundled Kubernetes version from KUBE_MIN_VERSION (default 1.29) to the
# newest, and cross-checks references (selectors, ConfigMaps, claims, HPA targets,
# probe ports) and the pod hardening every workload must keep. Fails on any problem.
# K8S_RENDER_DIR=path keeps the rendered manifests there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import kubernetes_validate, yaml' 2>/dev/null; then
    echo "k8s-validate: installing kubernetes-validate" >&2
    python3 -m pip install --quiet kubernetes-validate
fi

if [ "$#" -eq 0 ]; then
    set -- k8s
fi

exec python3 - "$@" <<'PY'
import copy
import os
import re
import sys

import yaml
from packaging.version import Version
import kubernetes_validate
from kubernetes_validate import utils as kv


class Fail(Exception):
    pass


SUPPORTED_FIELDS = {
    "apiVersion", "kind", "resources", "namespace", "images", "replicas", "patches",
    "labels", "commonLabels", "commonAnnotations",
}
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
CLUSTER_SCOPED = {
    "Namespace", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding",
    "CustomResourceDefinition", "PriorityClass", "IngressClass", "RuntimeClass",
    "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
# Strategic-merge keys of the lists this renderer merges item by item; others are replaced.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath",
    "imagePullSecrets": "name", "topologySpreadConstraints": "topologyKey",
}


def kustomization_file(directory):
    for name in KUSTOMIZATION_FILES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def load_yaml_docs(path):
    try:
        with open(path) as f:
            return [d for d in yaml.safe_load_all(f) if d is not None]
    except yaml.YAMLError as e:
        raise Fail(f"{path}: invalid YAML: {e}")


def ident(obj):
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind')}/{(ns + '/') if ns else ''}{meta.get('name')}"


# ---- strategic merge ------------------------------------------------------

DELETE = object()


def strip_directives(value):
    if isinstance(value, dict):
        return {k: strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [strip_directives(v) for v in value]
    return value


def merge(base, patch, field=None):
    if isinstance(patch, dict):
        directive = patch.get("$patch")
        if directive == "delete":
            return DELETE
        if directive == "replace" or not isinstance(base, dict):
            return strip_directives(patch)
        out = dict(base)
        for key, value in patch.items():
            if key.startswith("$"):
                continue
            if value is None:
                out.pop(key, None)
            elif key in out:
                merged = merge(out[key], value, key)
                if merged is DELETE:
                    out.pop(key)
                else:
                    out[key] = merged
            else:
                out[key] = strip_directives(value)
        return out
    if isinstance(patch, list) and isinstance(base, list):
        key = MERGE_KEYS.get(field)
        if field == "ports" and all(isinstance(p, dict) for p in patch):
            key = "containerPort" if any("containerPort" in p for p in patch) else "port"
        if key is None or not all(isinstance(i, dict) for i in base + patch):
            return strip_directives(patch)
        out = list(base)
        for item in patch:
            if key not in item:
                raise Fail(f"patch item of list '{field}' has no merge key '{key}'")
            idx = next((i for i, b in enumerate(out) if b.get(key) == item[key]), None)
            if idx is None:
                if item.get("$patch") != "delete":
                    out.append(strip_directives(item))
                continue
            merged = merge(out[idx], item, field)
            if merged is DELETE:
                out.pop(idx)
            else:
                out[idx] = merged
        return out
    return patch


def target_matches(obj, target):
    meta = obj.get("metadata") or {}
    api = obj.get("apiVersion", "")
    group, _, version = api.rpartition("/")
    checks = {
        "kind": obj.get("kind"), "name": meta.get("name"),
        "namespace": meta.get("namespace"), "group": group, "version": version,
    }
    for field, want in target.items():
        if field == "labelSelector":
            labels = meta.get("labels") or {}
            for term in str(want).split(","):
                k, _, v = term.partition("=")
                if labels.get(k.strip()) != v.strip():
                    return False
        elif field in checks:
            if not re.fullmatch(str(want), str(checks[field] or "")):
                return False
        else:
            raise Fail(f"unsupported patch target field '{field}'")
    return True


def apply_patches(objects, patches, base_dir):
    for entry in patches or []:
        unknown = set(entry) - {"path", "patch", "target"}
        if unknown:
            raise Fail(f"unsupported patch fields {sorted(unknown)} (only path, patch, target)")
        if "path" in entry:
            path = os.path.join(base_dir, entry["path"])
            if not os.path.isfile(path):
                raise Fail(f"patch file {path} does not exist")
            docs = load_yaml_docs(path)
        elif "patch" in entry:
            docs = [d for d in yaml.safe_load_all(entry["patch"]) if d is not None]
        else:
            raise Fail("a patch needs path or patch")
        for doc in docs:
            if isinstance(doc, list):
                raise Fail("JSON 6902 patches are not supported here; use a strategic merge")
            if "target" in entry:
                target = entry["target"]
            else:
                target = {"kind": doc.get("kind"), "name": (doc.get("metadata") or {}).get("name")}
                if not all(target.values()):
                    raise Fail("a patch without target needs kind and metadata.name")
                target = {k: re.escape(v) for k, v in target.items()}
            hits = [i for i, obj in enumerate(objects) if target_matches(obj, target)]
            if not hits:
                raise Fail(f"patch {entry.get('path', '(inline)')} matches no resource ({target})")
            for i in hits:
                patch = copy.deepcopy(doc)
                if "target" in entry:
                    # An explicit target decides what is patched; the patch's own ids do not.
                    for k in ("apiVersion", "kind"):
                        patch.pop(k, None)
                    (patch.get("metadata") or {}).pop("name", None)
                objects[i] = merge(objects[i], patch)


# ---- transformers ---------------------------------------------------------

def pod_specs(obj):
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Pod":
        yield spec
    if "template" in spec:
        yield (spec["template"] or {}).get("spec") or {}
    if "jobTemplate" in spec:
        yield (((spec["jobTemplate"] or {}).get("spec") or {}).get("template") or {}).get("spec") or {}


def containers(obj):
    for pod in pod_specs(obj):
        for field in ("initContainers", "containers", "ephemeralContainers"):
            for c in pod.get(field) or []:
                yield c


def split_image(image):
    digest = ""
    if "@" in image:
        image, digest = image.split("@", 1)
    name, tag = image, ""
    if ":" in image.rsplit("/", 1)[-1]:
        name, tag = image.rsplit(":", 1)
    return name, tag, digest


def apply_images(objects, images):
    for rule in images or []:
        unknown = set(rule) - {"name", "newName", "newTag", "digest"}
        if unknown:
            raise Fail(f"unsupported images fields {sorted(unknown)}")
        used = False
        for obj in objects:
            for c in containers(obj):
                name, tag, digest = split_image(c.get("image", ""))
                if name != rule["name"]:
                    continue
                used = True
                name = rule.get("newName", name)
                if "digest" in rule:
                    c["image"] = f"{name}@{rule['digest']}"
                elif "newTag" in rule:
                    c["image"] = f"{name}:{rule['newTag']}"
                else:
                    c["image"] = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
        if not used:
            raise Fail(f"images: no container uses image '{rule['name']}'")


def apply_replicas(objects, replicas):
    for rule in replicas or []:
        hits = [o for o in objects
                if o.get("kind") in {"Deployment", "StatefulSet", "ReplicaSet"}
                and o["metadata"].get("name") == rule["name"]]
        if not hits:
            raise Fail(f"replicas: no workload named '{rule['name']}'")
        for o in hits:
            o.setdefault("spec", {})["replicas"] = int(rule["count"])


def apply_namespace(objects, namespace):
    for obj in objects:
        if obj.get("kind") in CLUSTER_SCOPED:
            continue
        obj.setdefault("metadata", {})["namespace"] = namespace


def add_labels(objects, pairs, selectors, templates):
    for obj in objects:
        obj.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            continue
        if templates or selectors:
            for holder in (spec, (spec.get("jobTemplate") or {}).get("spec") or {}):
                if isinstance(holder.get("template"), dict):
                    holder["template"].setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
        if selectors:
            if obj["kind"] == "Service":
                spec.setdefault("selector", {}).update(pairs)
            elif obj["kind"] in WORKLOADS - {"Job"} or obj["kind"] == "PodDisruptionBudget":
                spec.setdefault("selector", {}).setdefault("matchLabels", {}).update(pairs)


def add_annotations(objects, annotations):
    for obj in objects:
        obj.setdefault("metadata", {}).setdefault("annotations", {}).update(annotations)
        for pod_holder in (obj.get("spec") or {},):
            if isinstance(pod_holder.get("template"), dict):
                pod_holder["template"].setdefault("metadata", {}).setdefault(
                    "annotations", {}).update(annotations)


# ---- rendering ------------------------------------------------------------

def render(directory, stack=()):
    directory = os.path.normpath(directory)
    if directory in stack:
        raise Fail(f"{directory}: kustomization cycle")
    path = kustomization_file(directory)
    if path is None:
        raise Fail(f"{directory}: no kustomization.yaml")
    docs = load_yaml_docs(path)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise Fail(f"{path}: expected one YAML mapping")
    k = docs[0]
    unknown = set(k) - SUPPORTED_FIELDS
    if unknown:
        raise Fail(f"{path}: fields {sorted(unknown)} are not supported by scripts/k8s-validate.sh")
    if k.get("kind", "Kustomization") != "Kustomization":
        raise Fail(f"{path}: kind must be Kustomization")

    objects = []
    for entry in k.get("resources") or []:
        target = os.path.join(directory, entry)
        if os.path.isdir(target):
            objects += render(target, stack + (directory,))
        elif os.path.isfile(target):
            for doc in load_yaml_docs(target):
                if not isinstance(doc, dict) or not doc.get("kind") or not doc.get("apiVersion") \
                        or not (doc.get("metadata") or {}).get("name"):
                    raise Fail(f"{target}: every document needs apiVersion, kind and metadata.name")
                objects.append(doc)
        else:
            raise Fail(f"{path}: listed resource '{entry}' does not exist")

    try:
        apply_patches(objects, k.get("patches"), directory)
        if "namespace" in k:
            apply_namespace(objects, k["namespace"])
        if "commonLabels" in k:
            add_labels(objects, k["commonLabels"], selectors=True, templates=True)
        for rule in k.get("labels") or []:
            unknown = set(rule) - {"pairs", "includeSelectors", "includeTemplates"}
            if unknown:
                raise Fail(f"unsupported labels fields {sorted(unknown)}")
            add_labels(objects, rule.get("pairs") or {},
                       selectors=bool(rule.get("includeSelectors", False)),
                       templates=bool(rule.get("includeTemplates", False)))
        if "commonAnnotations" in k:
            add_annotations(objects, k["commonAnnotations"])
        apply_replicas(objects, k.get("replicas"))
        apply_images(objects, k.get("images"))
    except Fail as e:
        raise Fail(f"{path}: {e}")

    seen = set()
    for obj in objects:
        key = ident(obj)
        if key in seen:
            raise Fail(f"{path}: {key} is defined twice")
        seen.add(key)
    return objects


# ---- checks beyond the schema ---------------------------------------------

def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def cross_check(objects):
    problems = []
    by_kind = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    pods = []  # (workload id, template labels)
    for obj in objects:
        kind, spec = obj["kind"], obj.get("spec") or {}
        if kind not in WORKLOADS:
            continue
        template = spec.get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        pods.append((ident(obj), labels))
        if kind != "Job" and not selects((spec.get("selector") or {}).get("matchLabels"), labels):
            problems.append(f"{ident(obj)}: selector does not match its pod template labels")
        pod = template.get("spec") or {}
        psc = pod.get("securityContext") or {}
        if psc.get("runAsNonRoot") is not True:
            problems.append(f"{ident(obj)}: pod securityContext.runAsNonRoot must be true")
        volumes = {v["name"]: v for v in pod.get("volumes") or []}
        for v in volumes.values():
            claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
            if claim and claim not in by_kind.get("PersistentVolumeClaim", {}):
                problems.append(f"{ident(obj)}: volume {v['name']} claims missing PVC {claim}")
        for c in pod.get("containers") or []:
            where = f"{ident(obj)} container {c['name']}"
            csc = c.get("securityContext") or {}
            if csc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: readOnlyRootFilesystem must be true")
            if csc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation must be false")
            res = c.get("resources") or {}
            if not res.get("requests") or not res.get("limits"):
                problems.append(f"{where}: needs resources requests and limits")
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts") or []}
            if "/tmp" not in mounts:
                problems.append(f"{where}: needs a writable /tmp volume")
            for name in mounts.values():
                if name not in volumes:
                    problems.append(f"{where}: mounts unknown volume {name}")
            for src in c.get("envFrom") or []:
                ref = src.get("configMapRef")
                if ref and not ref.get("optional") and ref["name"] not in by_kind.get("ConfigMap", {}):
                    problems.append(f"{where}: envFrom ConfigMap {ref['name']} is not rendered")
            for e in c.get("env") or []:
                ref = (e.get("valueFrom") or {}).get("configMapKeyRef")
                if ref and not ref.get("optional"):
                    cm = by_kind.get("ConfigMap", {}).get(ref["name"])
                    if cm is None or ref["key"] not in (cm.get("data") or {}):
                        problems.append(f"{where}: env {e['name']} needs ConfigMap {ref['name']} key {ref['key']}")
            if kind != "Job":
                ports = {p.get("containerPort") for p in c.get("ports") or []}
                names = {p.get("name") for p in c.get("ports") or []}
                for probe in ("readinessProbe", "livenessProbe"):
                    if probe not in c:
                        problems.append(f"{where}: needs a {probe}")
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    handler = c.get(probe) or {}
                    for kind_of in ("grpc", "httpGet", "tcpSocket"):
                        port = (handler.get(kind_of) or {}).get("port")
                        if port is not None and port not in ports and port not in names:
                            problems.append(f"{where}: {probe} port {port} is not a container port")
    for obj in objects:
        kind, spec, name = obj["kind"], obj.get("spec") or {}, ident(obj)
        if kind == "Service" and spec.get("selector"):
            if not any(selects(spec["selector"], labels) for _, labels in pods):
                problems.append(f"{name}: selector matches no pod template")
        if kind == "PodDisruptionBudget":
            sel = (spec.get("selector") or {}).get("matchLabels")
            if not any(selects(sel, labels) for _, labels in pods):
                problems.append(f"{name}: selector matches no pod template")
        if kind == "HorizontalPodAutoscaler":
            ref = spec.get("scaleTargetRef") or {}
            if ref.get("name") not in by_kind.get(ref.get("kind"), {}):
                problems.append(f"{name}: scales missing {ref.get('kind')}/{ref.get('name')}")
    return problems


# ---- schema validation ----------------------------------------------------

def schema_errors(obj, version):
    """Every strict-schema error of obj (kubernetes_validate.validate stops at the first)."""
    try:
        kv.validate(obj, version, strict=True)
        return []
    except kv.SchemaNotFoundError as e:
        return [e.message]
    except kv.ValidationError:
        pass
    import jsonschema
    from referencing import Registry, Resource
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", obj["apiVersion"])
    schema_dir = f"kubernetes-json-schema/v{version}-local-strict"
    schema = kv.schema_contents(f"{schema_dir}/{obj['kind'].lower()}-{api}.json", version)
    definitions = kv.schema_contents(f"{schema_dir}/_definitions.json", version)
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    validator = jsonschema.validators.Draft202012Validator(schema, registry=registry)
    errors = sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.path)))
    return [f"{'.'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors]


# ---- main -----------------------------------------------------------------

def main(roots):
    min_version = Version(os.environ.get("KUBE_MIN_VERSION", "1.29"))
    versions = [v for v in kv.all_versions() if Version(v) >= min_version]
    if not versions:
        print(f"k8s-validate: kubernetes-validate bundles no version >= {min_version}")
        return 1
    render_dir = os.environ.get("K8S_RENDER_DIR")
    dirs = []
    for root in roots:
        if not os.path.isdir(root):
            print(f"k8s-validate: {root} is not a directory")
            return 1
        for here, subdirs, files in os.walk(root):
            subdirs.sort()
            if any(f in files for f in KUSTOMIZATION_FILES):
                dirs.append(here)
    if not dirs:
        print(f"k8s-validate: no kustomization found under {' '.join(roots)}")
        return 1

    span = f"{versions[0]}" if len(versions) == 1 else f"{versions[0]} to {versions[-1]}"
    print(f"k8s-validate: {len(dirs)} kustomizations, kubernetes-validate "
          f"{kubernetes_validate.__version__}, strict schemas of Kubernetes {span}")
    failures = 0
    for d in dirs:
        try:
            objects = render(d)
        except Fail as e:
            print(f"FAIL {d}: {e}")
            failures += 1
            continue
        problems = []
        for obj in objects:
            for version in versions:
                errors = schema_errors(obj, version)
                problems += [f"{ident(obj)} (Kubernetes {version}): {e}" for e in errors]
                if errors:
                    break  # the same mistake would repeat for every later version
        problems += cross_check(objects)
        if render_dir:
            out = os.path.join(render_dir, os.path.normpath(d).replace(os.sep, "_") + ".yaml")
            os.makedirs(render_dir, exist_ok=True)
            with open(out, "w") as f:
                yaml.safe_dump_all(objects, f, sort_keys=False)
        if problems:
            failures += 1
            print(f"FAIL {d}: {len(objects)} resources, {len(problems)} problem(s)")
            for p in problems:
                print(f"  - {p}")
        else:
            kinds = {}
            for obj in objects:
                kinds[obj["kind"]] = kinds.get(obj["kind"], 0) + 1
            summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
            print(f"ok   {d}: {len(objects)} resources ({summary})")
    if failures:
        print(f"k8s-validate: {failures} of {len(dirs)} kustomizations failed")
        return 1
    print(f"k8s-validate: all {len(dirs)} kustomizations valid")
    return 0


sys.exit(main(sys.argv[1:]))
PY
