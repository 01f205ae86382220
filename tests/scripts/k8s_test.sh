#!/usr/bin/env bash
# deploy/k8s without a cluster: `./mercato k8s check` passes on the repository (the generated files are
# current, every overlay renders, every object passes its schema with no undefined field, and the
# policy holds), and each of its checks fails when it should: a broken manifest of each kind is fed to
# deploy/k8s/tools/check.mjs and must be refused with the finding that names it; a stale generated
# file must be reported. Exit 77 (skipped) without kubectl, which renders the overlays.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export MERCATO_SKIP_DEPS=1 NO_COLOR=1

if ! command -v kubectl >/dev/null 2>&1; then
  echo "SKIP: kubectl is not installed (deploy/k8s/README.md says where it comes from)"
  exit 77
fi
[[ -d node_modules/kubernetes-models ]] || { echo "FAIL: node_modules lacks kubernetes-models (./mercato deps)"; exit 1; }

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# 1. The repository itself passes.
if ./mercato k8s check >"$TMP/check.out" 2>&1; then
  echo "ok: ./mercato k8s check passes"
else
  cat "$TMP/check.out"
  fail "./mercato k8s check fails on the repository"
fi

# The material for the broken cases: the prod and istio overlays as rendered, and the catalog.
./mercato k8s render prod >"$TMP/prod.yaml"
./mercato k8s render istio >"$TMP/istio.yaml"
bash -c 'MERCATO_ROOT="$1"; source "$1/scripts/lib.sh"; source "$1/scripts/k8s.sh"; k8s_catalog_json' _ "$ROOT" >"$TMP/catalog.json"

# mutate IN OUT KIND NAME JS: OUT is IN with JS (a statement on `o`) applied to the object KIND/NAME.
mutate() {
  # shellcheck disable=SC2016  # the program is JavaScript: its ${...} are not the shell's
  node --input-type=module -e '
    import { readFileSync, writeFileSync } from "node:fs";
    import YAML from "yaml";
    const [input, output, kind, name, code] = process.argv.slice(1);
    const apply = new Function("o", code);
    let hit = false;
    const docs = YAML.parseAllDocuments(readFileSync(input, "utf8")).map((d) => d.toJS()).filter(Boolean);
    for (const o of docs) if (o.kind === kind && o.metadata?.name === name) { apply(o); hit = true; }
    if (!hit) { console.error(`no ${kind} ${name} in ${input}`); process.exit(2); }
    writeFileSync(output, docs.map((o) => YAML.stringify(o)).join("---\n"));
  ' "$@"
}

# The cases are collected first and checked in one run of check.mjs (each run loads the schemas
# anew): every case file must have a finding that says what its case expects.
declare -a CASE_NAMES=() CASE_PATTERNS=()
case_of() {
  local name="$1" source="$2" kind="$3" object="$4" code="$5" pattern="$6" n="${#CASE_NAMES[@]}"
  mutate "$TMP/$source.yaml" "$TMP/case-$n.yaml" "$kind" "$object" "$code"
  CASE_NAMES+=("$name")
  CASE_PATTERNS+=("$pattern")
}

# Sanity: a mutation that changes nothing passes (so the cases below fail for their change alone).
mutate "$TMP/prod.yaml" "$TMP/same.yaml" Deployment order 'return o;'
mutate "$TMP/istio.yaml" "$TMP/same-istio.yaml" VirtualService order 'return o;'
check() {
  node deploy/k8s/tools/check.mjs --tag "$(tr -d '[:space:]' <deploy/containers/version)" \
    --policy config/gateway-policy.yaml --catalog "$TMP/catalog.json" "$@"
}
check "$TMP/same.yaml" "$TMP/same-istio.yaml" >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "an unchanged rendering is refused"; }

c='o.spec.template.spec.containers[0]'
case_of "a misspelt field" prod Deployment order "$c.readinesProbe = $c.readinessProbe;" \
  "/spec/template/spec/containers/0/readinesProbe is not a field"
case_of "an undefined field in an Istio object" istio VirtualService order "o.spec.http[1].route[0].wieght = 1;" \
  "/spec/http/1/route/0/wieght is not a field"
case_of "a wrong type" prod Service user "o.spec.ports[0].port = 'eighty';" "schema: /spec/ports/0/port type"
case_of "a missing required field" prod Deployment user "delete o.spec.selector;" "missingProperty"
case_of "a container without a readiness probe" prod Deployment payment "delete $c.readinessProbe;" \
  "has no readinessProbe"
case_of "a container without a startup probe" prod StatefulSet nats "delete $c.startupProbe;" "has no startupProbe"
case_of "a container without a memory limit" prod Deployment gateway "delete $c.resources.limits.memory;" \
  "no memory in resources.limits"
case_of "a writable root file system" prod StatefulSet redis "$c.securityContext.readOnlyRootFilesystem = false;" \
  "readOnlyRootFilesystem is not true"
case_of "privilege escalation" prod Deployment shipping "delete $c.securityContext.allowPrivilegeEscalation;" \
  "allowPrivilegeEscalation is not false"
case_of "capabilities kept" prod Deployment inventory "$c.securityContext.capabilities.drop = ['NET_RAW'];" \
  "does not drop ALL"
case_of "root allowed" prod Deployment notification \
  "delete $c.securityContext.runAsNonRoot; delete o.spec.template.spec.securityContext.runAsNonRoot;" \
  "may run as root"
case_of "an image on latest" prod Deployment user "$c.image = 'localhost/mercato/user:latest';" "is not pinned"
case_of "an image without a tag" prod StatefulSet postgres "$c.image = 'localhost/mercato/postgres';" "is not pinned"
case_of "an image of another version" prod Deployment order "$c.image = 'localhost/mercato/order:0.0.1';" \
  "is not this checkout's tag"
case_of "a Secret with a value" prod Service user \
  "Object.assign(o, {apiVersion: 'v1', kind: 'Secret', spec: undefined, data: {password: 'c2VjcmV0'}}); delete o.spec;" \
  "a Secret with values"
case_of "no default-deny policy" prod NetworkPolicy default-deny-ingress "o.spec.podSelector = {matchLabels: {a: 'b'}};" \
  "no default-deny NetworkPolicy"
case_of "a DestinationRule that left the policy" istio DestinationRule order \
  "o.spec.trafficPolicy.outlierDetection.consecutive5xxErrors = 7;" "differs from config/gateway-policy.yaml"
case_of "an unknown kind" prod Service user "o.kind = 'Servise';" "no schema for v1 Servise"

files=()
for ((n = 0; n < ${#CASE_NAMES[@]}; n++)); do files+=("$TMP/case-$n.yaml"); done
if check "${files[@]}" >"$TMP/out" 2>&1; then
  fail "check.mjs accepts every broken case"
fi
for ((n = 0; n < ${#CASE_NAMES[@]}; n++)); do
  if line="$(grep -F -- "case-$n.yaml" "$TMP/out" | grep -m1 -F -- "${CASE_PATTERNS[n]}")"; then
    echo "ok: ${CASE_NAMES[n]} is refused (${line#*case-"$n".yaml: })"
  else
    grep -F -- "case-$n.yaml" "$TMP/out" || true
    fail "${CASE_NAMES[n]}: not refused with '${CASE_PATTERNS[n]}'"
  fi
done

# A generated file that no longer matches the catalog: a copy of the repository's deploy/k8s with one
# port changed in processes.yaml must be reported stale.
mkdir -p "$TMP/repo"
cp -r mercato scripts services config deploy package.json "$TMP/repo/"
ln -s "$ROOT/node_modules" "$TMP/repo/node_modules"
sed -i '0,/containerPort: 8082/s//containerPort: 9082/' "$TMP/repo/deploy/k8s/base/processes.yaml"
if (cd "$TMP/repo" && ./mercato k8s generate --check) >"$TMP/out" 2>&1; then
  fail "a stale processes.yaml is accepted"
elif grep -q "deploy/k8s/base/processes.yaml is stale" "$TMP/out"; then
  echo "ok: a stale generated file is reported"
else
  cat "$TMP/out"
  fail "a stale processes.yaml is refused without saying so"
fi
# ...and a policy change that the mesh file does not follow, the same way.
cp "$ROOT/deploy/k8s/base/processes.yaml" "$TMP/repo/deploy/k8s/base/processes.yaml"
sed -i 's/consecutive5xxErrors: 5 /consecutive5xxErrors: 6 /' "$TMP/repo/config/gateway-policy.yaml"
if (cd "$TMP/repo" && ./mercato k8s generate --check) >"$TMP/out" 2>&1; then
  fail "a mesh.yaml that no longer follows the policy is accepted"
elif grep -q "deploy/k8s/overlays/istio/mesh.yaml is stale" "$TMP/out"; then
  echo "ok: a policy change not followed by mesh.yaml is reported"
else
  cat "$TMP/out"
  fail "a stale mesh.yaml is refused without saying so"
fi

if ((failures)); then
  echo "k8s_test: $failures failure(s)"
  exit 1
fi
echo "k8s_test: passed"
