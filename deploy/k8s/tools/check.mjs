// Checks rendered Kubernetes manifests without a cluster (./mercato k8s check; tests/scripts/k8s_test.sh):
//
//   schema   every object against its Kubernetes or Istio schema (npm kubernetes-models and
//            @kubernetes-models/istio, their validate functions), and every field the schema does not
//            define is refused too: the validators ignore unknown fields (a misspelt `readinessProbe`
//            would pass), so each object is validated through a proxy that records which fields the
//            validator looked at; a field it never looked at is not in the schema. A map (labels, data,
//            resource quantities) is enumerated by the validator, so its keys count as looked at.
//   policy   every container of a Deployment or StatefulSet has startup, liveness and readiness probes,
//            CPU and memory requests and limits, runAsNonRoot, a read-only root file system, no privilege
//            escalation, every capability dropped, and an image pinned by tag (not latest) or digest;
//            Mercato's own images carry --tag; no Secret carries a value; a default-deny NetworkPolicy
//            exists; the Istio DestinationRules say what config/gateway-policy.yaml says (--policy, with
//            --catalog: the service catalog as scripts/k8s.sh writes it, to map the policy's routes)
//
// Usage: node check.mjs [--tag TAG] [--policy gateway-policy.yaml --catalog CATALOG.json] FILE.yaml...   (exit 1 on any finding)
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import YAML from "yaml";

const args = process.argv.slice(2);
let tag = null;
let policyFile = null;
let catalogFile = null;
const files = [];
while (args.length) {
  const a = args.shift();
  if (a === "--tag") tag = args.shift();
  else if (a === "--policy") policyFile = args.shift();
  else if (a === "--catalog") catalogFile = args.shift();
  else files.push(a);
}
if (!files.length) {
  console.error("usage: node check.mjs [--tag TAG] [--policy FILE] FILE.yaml...");
  process.exit(2);
}

const catalog = catalogFile ? JSON.parse(readFileSync(catalogFile, "utf8")) : null;
const findings = [];
const report = (where, message) => findings.push(`${where}: ${message}`);

// The validate function of an apiVersion/kind: the model module's own schema import.
const validators = new Map();
async function validatorFor(apiVersion, kind) {
  const key = `${apiVersion}/${kind}`;
  if (validators.has(key)) return validators.get(key);
  const pkg = /\.istio\.io\//.test(apiVersion) ? "@kubernetes-models/istio" : "kubernetes-models";
  let validate = null;
  try {
    // The packages export ES modules only (no require condition), so import.meta.resolve (Node.js 20).
    const url = import.meta.resolve(`${pkg}/${apiVersion}/${kind}`);
    const text = readFileSync(fileURLToPath(url), "utf8");
    const schema = text.match(/from"((?:\.\.\/)+_schemas\/\w+\.js)"/);
    if (schema) validate = (await import(new URL(schema[1], url))).validate;
  } catch {
    validate = null;
  }
  validators.set(key, validate);
  return validate;
}

// track(value, seen): a proxy of value that records in seen which keys the validator reads.
function track(value, seen) {
  if (value === null || typeof value !== "object") return value;
  let rec = seen.get(value);
  if (!rec) seen.set(value, (rec = { read: new Set(), enumerated: false }));
  return new Proxy(value, {
    get(target, k, receiver) {
      if (typeof k === "string") rec.read.add(k);
      return track(Reflect.get(target, k, receiver), seen);
    },
    has(target, k) {
      if (typeof k === "string") rec.read.add(k);
      return Reflect.has(target, k);
    },
    ownKeys(target) {
      rec.enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
}

function unknownFields(value, seen, path, out) {
  if (value === null || typeof value !== "object") return;
  const rec = seen.get(value);
  for (const [k, v] of Object.entries(value)) {
    const p = `${path}/${k}`;
    if (!rec || (!Array.isArray(value) && !rec.enumerated && !rec.read.has(k))) {
      out.push(p);
      continue;
    }
    unknownFields(v, seen, p, out);
  }
}

async function checkSchema(obj, where) {
  const validate = await validatorFor(obj.apiVersion, obj.kind);
  if (!validate) {
    report(where, `no schema for ${obj.apiVersion} ${obj.kind}`);
    return;
  }
  const seen = new Map();
  if (!validate(track(obj, seen))) {
    for (const e of validate.errors ?? []) {
      report(where, `schema: ${e.instancePath || "/"} ${e.keyword} ${JSON.stringify(e.params)}`);
    }
  }
  const unknown = [];
  unknownFields(obj, seen, "", unknown);
  for (const p of unknown) report(where, `schema: ${p} is not a field of ${obj.apiVersion} ${obj.kind}`);
}

function checkContainer(c, pod, where) {
  for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
    if (!c[probe]) report(where, `container ${c.name} has no ${probe}`);
  }
  for (const kind of ["requests", "limits"]) {
    for (const r of ["cpu", "memory"]) {
      if (!c.resources?.[kind]?.[r]) report(where, `container ${c.name} has no ${r} in resources.${kind}`);
    }
  }
  const sc = c.securityContext ?? {};
  if (sc.runAsNonRoot !== true && pod.securityContext?.runAsNonRoot !== true) {
    report(where, `container ${c.name} may run as root (runAsNonRoot is not true)`);
  }
  if (sc.readOnlyRootFilesystem !== true) report(where, `container ${c.name}: readOnlyRootFilesystem is not true`);
  if (sc.allowPrivilegeEscalation !== false) {
    report(where, `container ${c.name}: allowPrivilegeEscalation is not false`);
  }
  if (!(sc.capabilities?.drop ?? []).includes("ALL")) report(where, `container ${c.name} does not drop ALL capabilities`);
  if (sc.privileged) report(where, `container ${c.name} is privileged`);
  const image = c.image ?? "";
  const pinned = image.match(/^(.*?)(?::([\w][\w.-]*))?(?:@sha256:[0-9a-f]{64})?$/);
  const digest = image.includes("@sha256:");
  const imageTag = pinned?.[2];
  if (!digest && (!imageTag || imageTag === "latest")) {
    report(where, `container ${c.name}: image ${image} is not pinned (a tag other than latest, or a digest)`);
  } else if (tag && /(^|\/)mercato\//.test(image) && !digest && imageTag !== tag) {
    report(where, `container ${c.name}: image ${image} is not this checkout's tag ${tag} (deploy/containers/version)`);
  }
}

function checkPolicy(obj, where, state) {
  if (obj.kind === "Deployment" || obj.kind === "StatefulSet") {
    const pod = obj.spec?.template?.spec ?? {};
    const containers = [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
    if (!containers.length) report(where, "no containers");
    for (const c of containers) checkContainer(c, pod, where);
  }
  if (obj.kind === "Secret" && (Object.keys(obj.data ?? {}).length || Object.keys(obj.stringData ?? {}).length)) {
    report(where, "a Secret with values: secrets are created in the cluster, never committed (deploy/k8s/README.md)");
  }
  if (
    obj.kind === "NetworkPolicy" &&
    isDeepStrictEqual(obj.spec?.podSelector ?? {}, {}) &&
    (obj.spec?.policyTypes ?? []).includes("Ingress") &&
    !(obj.spec?.ingress ?? []).length
  ) {
    state.defaultDeny = true;
  }
  if (obj.kind === "DestinationRule") state.destinationRules.push([obj, where]);
}

// The DestinationRules against the gateway's policy: the same connection pool and outlier detection.
function checkMeshAgainstPolicy(destinationRules, policy, where) {
  const byService = new Map(destinationRules.map(([dr, w]) => [dr.spec?.host, [dr, w]]));
  for (const rule of policy.destinationRules ?? []) {
    const tp = rule.trafficPolicy ?? {};
    const wanted = {};
    if (tp.connectionPool) wanted.connectionPool = tp.connectionPool;
    if (tp.outlierDetection) wanted.outlierDetection = tp.outlierDetection;
    if (!Object.keys(wanted).length) continue;
    // The policy's host is a route ("orders"); the DestinationRule's host is the service ("order").
    const owner = catalog.processes.find((p) => p.routes.includes(rule.host))?.name;
    const match = byService.has(owner) ? [owner, byService.get(owner)] : null;
    if (!match) {
      report(where, `no DestinationRule for the policy's host ${rule.host}`);
      continue;
    }
    const [dr, w] = match[1];
    for (const [key, value] of Object.entries(wanted)) {
      if (!isDeepStrictEqual(dr.spec.trafficPolicy?.[key], value)) {
        report(w, `trafficPolicy.${key} differs from config/gateway-policy.yaml's (host ${rule.host})`);
      }
    }
  }
}

for (const file of files) {
  const state = { defaultDeny: false, destinationRules: [] };
  const docs = YAML.parseAllDocuments(readFileSync(file, "utf8"));
  let n = 0;
  for (const doc of docs) {
    if (doc.errors.length) {
      report(file, `not YAML: ${doc.errors[0].message}`);
      continue;
    }
    const obj = doc.toJS();
    if (obj === null) continue;
    n++;
    const where = `${file}: ${obj.kind ?? "?"} ${obj.metadata?.name ?? "?"}`;
    if (!obj.apiVersion || !obj.kind) {
      report(where, "no apiVersion or kind");
      continue;
    }
    await checkSchema(obj, where);
    checkPolicy(obj, where, state);
  }
  if (!n) report(file, "no objects");
  if (n && !state.defaultDeny) report(file, "no default-deny NetworkPolicy (podSelector {} with no ingress rule)");
  if (policyFile && catalog && state.destinationRules.length) {
    checkMeshAgainstPolicy(state.destinationRules, YAML.parse(readFileSync(policyFile, "utf8")) ?? {}, file);
  }
  console.log(`${file}: ${n} objects checked`);
}
for (const f of findings) console.error(`k8s check: ${f}`);
if (findings.length) {
  console.error(`k8s check: FAILED (${findings.length} finding(s))`);
  process.exit(1);
}
console.log("k8s check: PASSED");
