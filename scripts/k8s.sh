# shellcheck shell=bash
# `./mercato k8s`: the Kubernetes manifests of deploy/k8s (deploy/k8s/README.md; docs/adr/0017-deployment.md).
#
#   generate [--check]   writes deploy/k8s/base/processes.yaml, base/config/kustomization.yaml and
#                        overlays/istio/mesh.yaml from
#                        the service catalog and config/gateway-policy.yaml (deploy/k8s/tools/generate.mjs);
#                        --check writes them to a temporary folder and fails when the committed ones differ
#   render OVERLAY       prints what `kubectl kustomize` makes of deploy/k8s/overlays/OVERLAY, offline
#   check                generate --check, then every overlay rendered and checked by
#                        deploy/k8s/tools/check.mjs: the Kubernetes and Istio schemas (kubernetes-models,
#                        @kubernetes-models/istio) with fields they do not define refused, and the policy
#                        (probes, limits, security context, pinned image tags)
#
# The config files live in config/, outside the kustomization's root, so rendering needs
# --load-restrictor LoadRestrictionsNone: one copy of each file, the one every other mode of running reads.

K8S_DIR="${MERCATO_ROOT}/deploy/k8s"

# k8s_overlays: the overlays, one name per line.
k8s_overlays() {
  local dir
  for dir in "${K8S_DIR}"/overlays/*/; do
    dir="${dir%/}"
    echo "${dir##*/}"
  done
}

# k8s_catalog_json: the service catalog (scripts/services.sh) as the generator reads it.
k8s_catalog_json() {
  local name
  {
    jq -cn --arg name "$MERCATO_GATEWAY_NAME" --argjson port "$(service_port "$MERCATO_GATEWAY_NAME")" \
      '{name: $name, kind: "gateway", port: $port, routes: [], calls: [], storage: "none"}'
    for name in $(service_names); do
      jq -cn --arg name "$name" --argjson port "$(service_port "$name")" --arg routes "$(service_route "$name")" \
        --arg calls "$(service_calls "$name")" --arg storage "$(service_storage "$name")" \
        '{name: $name, kind: "service", port: $port, routes: ($routes | split(",") | map(select(. != ""))),
          calls: ($calls | split(",") | map(select(. != ""))), storage: $storage}'
    done
  } | jq -s '{processes: .}'
}

# k8s_node_ready: node and the npm packages the tools import (./mercato deps installs them).
k8s_node_ready() {
  command -v node >/dev/null 2>&1 || die "node not found (./mercato deps installs npm and node)"
  [[ -d "${MERCATO_ROOT}/node_modules/kubernetes-models" && -d "${MERCATO_ROOT}/node_modules/yaml" ]] ||
    die "node_modules lacks kubernetes-models or yaml: run ./mercato deps (npm ci)"
}

# k8s_generate OUT_DIR: the generated files under OUT_DIR (base/processes.yaml, overlays/istio/mesh.yaml).
k8s_generate() {
  local out="$1" catalog
  k8s_node_ready
  catalog="$(mktemp)"
  k8s_catalog_json >"$catalog"
  node "${K8S_DIR}/tools/generate.mjs" "$catalog" "${MERCATO_ROOT}/config/gateway-policy.yaml" "$out" ||
    { rm -f "$catalog"; die "k8s: generate.mjs failed"; }
  rm -f "$catalog"
}

# k8s_generate_check: fails naming each generated file that differs from what the catalog and the policy
# make now.
k8s_generate_check() {
  local tmp file status=0
  tmp="$(mktemp -d)"
  k8s_generate "$tmp"
  for file in base/processes.yaml base/config/kustomization.yaml overlays/istio/mesh.yaml; do
    if ! diff -u "${K8S_DIR}/$file" "$tmp/$file" >"$tmp/diff" 2>&1; then
      log_error "deploy/k8s/$file is stale (./mercato k8s generate writes it):"
      head -n 40 "$tmp/diff" >&2
      status=1
    fi
  done
  rm -rf "$tmp"
  return "$status"
}

# k8s_render OVERLAY: the overlay's objects as one YAML stream.
k8s_render() {
  command -v kubectl >/dev/null 2>&1 || die "kubectl not found (it renders deploy/k8s offline: deploy/k8s/README.md)"
  [[ -d "${K8S_DIR}/overlays/$1" ]] || die "k8s: no overlay '$1' (overlays: $(k8s_overlays | tr '\n' ' '))"
  kubectl kustomize --load-restrictor LoadRestrictionsNone "${K8S_DIR}/overlays/$1"
}

# k8s_check: every check of deploy/k8s; fails on the first overlay that does not pass.
k8s_check() {
  local overlay tmp status=0
  k8s_generate_check || status=1
  tmp="$(mktemp -d)"
  for overlay in $(k8s_overlays); do
    if ! k8s_render "$overlay" >"$tmp/$overlay.yaml" 2>"$tmp/$overlay.err"; then
      rm -f "$tmp/$overlay.yaml"
      log_error "k8s: overlay $overlay does not render:"
      cat "$tmp/$overlay.err" >&2
      status=1
      continue
    fi
  done
  if ((status == 0)); then
    k8s_catalog_json >"$tmp/catalog.json"
    node "${K8S_DIR}/tools/check.mjs" --tag "$(images_tag)" --policy "${MERCATO_ROOT}/config/gateway-policy.yaml" \
      --catalog "$tmp/catalog.json" "$tmp"/*.yaml || status=1
  fi
  rm -rf "$tmp"
  return "$status"
}

cmd_k8s() {
  local sub="${1:-}"
  (($#)) && shift
  case "$sub" in
    generate)
      if [[ "${1:-}" == --check ]]; then
        k8s_generate_check
      else
        k8s_generate "$K8S_DIR"
        log_info "wrote deploy/k8s/base/processes.yaml, base/config/kustomization.yaml, overlays/istio/mesh.yaml"
      fi
      ;;
    render)
      (($# == 1)) || die "usage: ./mercato k8s render OVERLAY   (overlays: $(k8s_overlays | tr '\n' ' '))"
      k8s_render "$1"
      ;;
    check) k8s_check ;;
    *) die "usage: ./mercato k8s generate [--check] | render OVERLAY | check   (see ./mercato help)" ;;
  esac
}
