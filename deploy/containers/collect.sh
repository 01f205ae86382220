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

# package_of FILE: the Debian package that installed FILE (fails when none did). ldd names a library
# under /lib or /usr/lib, and with bookworm's merged /usr both are the same file, but dpkg knows it only
# under the path its package shipped (libc6's /lib, most others' /usr/lib): every spelling is asked, or
# libc itself would look foreign and be copied.
package_of() {
  local path="$1" real candidate owner
  real="$(readlink -f "$path")"
  for candidate in "$path" "/usr${path#/usr}" "${path#/usr}" "$real" "/usr${real#/usr}" "${real#/usr}"; do
    if owner="$(dpkg -S "$candidate" 2>/dev/null)"; then
      owner="${owner%%$'\n'*}"
      echo "${owner%%:*}"
      return 0
    fi
  done
  return 1
}
# Libraries a process opens at run time (dlopen) instead of linking, which ldd cannot see: libpq, opened
# by a service configured for PostgreSQL (lib/postgres/src/libpq.hpp), and librdkafka, opened by one
# configured for Kafka (lib/events/src/librdkafka.hpp). Copied with their own libraries
# into the image of every binary that names them.
runtime_opened=(libpq.so.5 librdkafka.so.1)

# libraries_of FILE: the shared libraries FILE loads, by path.
libraries_of() { ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'; }

# needed_by BINARY: what BINARY loads, linked or opened at run time.
needed_by() {
  local so path
  libraries_of "$1"
  for so in "${runtime_opened[@]}"; do
    grep -qF "$so" "$1" || continue
    path="$(ldconfig -p | awk -v so="$so" '$1 == so && /x86-64/ { print $NF; exit }')"
    [[ -n "$path" ]] || {
      echo "collect.sh: $1 opens $so at run time, and no $so is installed" >&2
      exit 1
    }
    echo "$path"
    libraries_of "$path"
  done
}

for target in "$@"; do
  name="${target#mercato-}"
  dest="$out/$name"
  install -D -m 0755 "$build/services/$name/$target" "$dest/usr/local/bin/mercato"
  strip --strip-unneeded "$dest/usr/local/bin/mercato"
  while read -r lib; do
    pkg="$(package_of "$lib")" || pkg=""
    [[ -n "$pkg" && -n "${in_base[$pkg]:-}" ]] && continue
    # Always under /usr: a /lib directory in the layer would replace the base's /lib -> usr/lib symlink
    # in the image, and with it the dynamic loader's path (every exec then fails with "no such file").
    mkdir -p "$dest/usr$(dirname "${lib#/usr}")"
    cp -L "$lib" "$dest/usr${lib#/usr}"
  done < <(needed_by "$dest/usr/local/bin/mercato" | sort -u)
  install -D -m 0644 "/src/config/$name.yaml" "$dest/opt/mercato/config.yaml"
  if [[ -f "/src/api/$name.yaml" ]]; then
    install -D -m 0644 "/src/api/$name.yaml" "$dest/opt/mercato/api/$name.yaml"
  fi
  # The gateway serves /docs from swagger-ui-dist and /dashboard's chart library from uplot/dist, at the
  # config's default paths relative to the working directory /opt/mercato. Only the files it reads
  # (services/gateway/api/docs.cpp load_swagger_ui, dashboard.cpp load_dashboard_assets; the containers
  # test fetches each through the gateway) and the licences: the packages' source maps and other
  # bundles are 11 MB it never serves. A missing file fails the build: an image without it would only
  # show it at run time, as a page without its scripts.
  if [[ "$name" == gateway ]]; then
    for file in swagger-ui-dist/{swagger-ui.css,swagger-ui-bundle.js,swagger-ui-standalone-preset.js} \
      swagger-ui-dist/{favicon-32x32.png,LICENSE,NOTICE} uplot/dist/{uPlot.iife.min.js,uPlot.min.css} uplot/LICENSE; do
      [[ -f "/src/node_modules/$file" ]] || {
        echo "collect.sh: node_modules/$file is missing (./mercato deps runs npm ci)" >&2
        exit 1
      }
      install -D -m 0644 "/src/node_modules/$file" "$dest/opt/mercato/node_modules/$file"
    done
  fi
  # The layer is copied onto the base's /: anything beside usr/ and opt/ would shadow a directory or
  # symlink of the base.
  for top in "$dest"/*; do
    case "${top##*/}" in
      usr | opt) ;;
      *)
        echo "collect.sh: $name would replace /${top##*/} of the base image" >&2
        exit 1
        ;;
    esac
  done
  echo "$name: $(du -sh "$dest" | cut -f1) ($(find "$dest/usr/lib" -name '*.so*' 2>/dev/null | wc -l) libraries not in the base)"
done
