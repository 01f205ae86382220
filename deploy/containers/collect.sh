#!/usr/bin/env bash
# collect.sh BUILD_DIR OUT_DIR TARGET...: in the build stage, lays out OUT_DIR/<process>/ as the runtime
# image's files: the stripped binary as /usr/local/bin/mercato, each shared library it loads that no
# package of the base image provides (ldd, dpkg -S), its config file, its contract and, for the
# gateway, the npm files it serves at /docs and /dashboard.
set -euo pipefail
build="$1" out="$2"
shift 2
declare -A in_base=()
while read -r pkg; do in_base[$pkg]=1; done </usr/local/share/base-packages
for target in "$@"; do
  name="${target#mercato-}"
  dest="$out/$name"
  install -D -m 0755 "$build/services/$name/$target" "$dest/usr/local/bin/mercato"
  strip --strip-unneeded "$dest/usr/local/bin/mercato"
  while read -r lib; do
    pkg="$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null | head -n 1 | cut -d: -f1)" || pkg=""
    [[ -n "$pkg" && -n "${in_base[$pkg]:-}" ]] && continue
    cp --parents -L "$lib" "$dest/"
  done < <(ldd "$dest/usr/local/bin/mercato" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }')
  install -D -m 0644 "/src/config/$name.yaml" "$dest/opt/mercato/config.yaml"
  if [[ -f "/src/api/$name.yaml" ]]; then
    install -D -m 0644 "/src/api/$name.yaml" "$dest/opt/mercato/api/$name.yaml"
  fi
  # The gateway serves /docs from swagger-ui-dist and /dashboard's chart library from uplot/dist, at the
  # config's default paths relative to the working directory /opt/mercato. Missing files fail the build:
  # an image without them would only show it at run time, as a page without its scripts.
  if [[ "$name" == gateway ]]; then
    for dir in swagger-ui-dist uplot/dist; do
      [[ -d "/src/node_modules/$dir" ]] || {
        echo "collect.sh: node_modules/$dir is missing (./mercato deps runs npm ci)" >&2
        exit 1
      }
      mkdir -p "$dest/opt/mercato/node_modules/$dir"
      cp -r "/src/node_modules/$dir/." "$dest/opt/mercato/node_modules/$dir/"
    done
  fi
  echo "$name: $(du -sh "$dest" | cut -f1)"
done
