#!/usr/bin/env bash
# collect.sh BUILD_DIR OUT_DIR TARGET...: in the build stage, lays out OUT_DIR/<process>/ as the runtime
# image's files: the stripped binary as /usr/local/bin/mercato, each shared library it loads that no
# package of the base image provides (ldd, dpkg -S), its config file, its contract and, for the
# gateway, the Swagger UI files it serves at /docs.
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
  if [[ "$name" == gateway && -d /src/node_modules/swagger-ui-dist ]]; then
    mkdir -p "$dest/opt/mercato/node_modules"
    cp -r /src/node_modules/swagger-ui-dist "$dest/opt/mercato/node_modules/"
  fi
  echo "$name: $(du -sh "$dest" | cut -f1)"
done
