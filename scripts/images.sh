# shellcheck shell=bash
# `./mercato images`: builds Mercato's container images with podman from deploy/containers/
# (docs/adr/0017-deployment.md; README "Deployment"):
#
#   localhost/mercato/debian:bookworm   the base: `debootstrap --variant=minbase bookworm` from the
#                                       machine's own Debian mirror, imported with `podman import`; built
#                                       only when missing (MERCATO_IMAGES_REBASE=1 builds it again)
#   localhost/mercato/<process>:<tag>   one per process of the catalog (the gateway and every service):
#                                       compiled in a build stage (toolchain + ccache, its cache kept in a
#                                       podman cache mount so a rebuild recompiles only what changed), the
#                                       runtime stage holds the binary and the shared libraries it needs
#   localhost/mercato/<tool>:<tag>      what runs beside them (nats, etcd, postgres, redis, prometheus):
#                                       the Debian package on the base image
#
# <tag> is deploy/containers/version; the compose file and the Kubernetes overlays name the same tag
# (tests/scripts/k8s_test.sh checks the overlays). Every image runs as a non-root user and keeps nothing
# it writes outside the volumes it is given, so a read-only root file system works.
#
# Podman's settings come from deploy/containers/containers.conf (CONTAINERS_CONF): runc, and ulimits
# within this host's hard limits; nothing depends on the machine's /etc/containers.
#
# Environment: MERCATO_IMAGE_TAG (default: deploy/containers/version), MERCATO_IMAGES_REBASE=1,
# MERCATO_DEBIAN_MIRROR (default: the first Debian mirror in /etc/apt/sources.list*).

IMAGES_DIR="${MERCATO_ROOT}/deploy/containers"
IMAGES_BASE="localhost/mercato/debian:bookworm"
IMAGES_TOOLS=(nats etcd postgres redis prometheus)

# images_tag: the tag every image of this checkout gets.
images_tag() {
  if [[ -n "${MERCATO_IMAGE_TAG:-}" ]]; then
    echo "$MERCATO_IMAGE_TAG"
  else
    tr -d '[:space:]' <"${IMAGES_DIR}/version"
  fi
}

# images_podman ARGS...: podman with the project's own containers.conf.
images_podman() {
  CONTAINERS_CONF="${IMAGES_DIR}/containers.conf" podman "$@"
}

# images_processes: the processes that get an image built from the sources: the gateway and every
# described service (the catalog, scripts/services.sh).
images_processes() {
  echo "$MERCATO_GATEWAY_NAME"
  service_names
}

# _images_mirror: the Debian mirror apt uses here (debootstrap takes the same, so nothing comes from a
# host the machine is not set up for).
_images_mirror() {
  if [[ -n "${MERCATO_DEBIAN_MIRROR:-}" ]]; then
    echo "$MERCATO_DEBIAN_MIRROR"
    return
  fi
  local url
  url="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk '/^deb / && $2 ~ /^https?:/ && $0 !~ /security/ { print $2; exit }
         /^URIs:/ && $2 !~ /security/ { print $2; exit }')"
  [[ -n "$url" ]] || die "images: no Debian mirror found in /etc/apt/sources.list*; set MERCATO_DEBIAN_MIRROR"
  echo "$url"
}

# images_base: builds the base image unless it exists. debootstrap's minbase is about 200 MB before the
# trimming below (apt lists, caches, documentation, locales), which every later layer no longer carries.
images_base() {
  if [[ "${MERCATO_IMAGES_REBASE:-0}" != 1 ]] && images_podman image exists "$IMAGES_BASE"; then
    log_note "base image $IMAGES_BASE exists (MERCATO_IMAGES_REBASE=1 builds it again)"
    return 0
  fi
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap not found (./mercato deps containers installs it)"
  ((EUID == 0)) || die "images: debootstrap and podman import need root here"
  local mirror root status=0
  mirror="$(_images_mirror)"
  root="$(mktemp -d "${TMPDIR:-/tmp}/mercato-debootstrap.XXXXXX")"
  log_info "base image: debootstrap --variant=minbase bookworm from $mirror (about a minute)"
  nice -n 10 debootstrap --variant=minbase bookworm "$root" "$mirror" >"${root}.log" 2>&1 || status=$?
  if ((status != 0)); then
    tail -n 20 "${root}.log" >&2
    rm -rf "$root" "${root}.log"
    die "debootstrap failed"
  fi
  # The image's apt uses the same mirror; the lists are fetched again by each stage that installs.
  echo "deb $mirror bookworm main" >"$root/etc/apt/sources.list"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
    "$root"/usr/share/info/* "$root"/usr/share/locale/* "$root"/var/log/*.log "$root"/var/cache/debconf/*-old
  tar -C "$root" -c . | images_podman import \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' - "$IMAGES_BASE" >/dev/null || status=$?
  rm -rf "$root" "${root}.log"
  ((status == 0)) || die "podman import failed"
  log_note "base image $IMAGES_BASE: $(images_size "$IMAGES_BASE")"
}

# images_size IMAGE: its size as podman reports it.
images_size() {
  images_podman image inspect --format '{{.Size}}' "$1" | awk '{ printf "%.0f MB\n", $1 / 1000000 }'
}

# _images_build WHAT ARGS...: `podman build --format docker ARGS...` (niced: other people compile on this
# machine too) with the project's containers.conf; dies naming WHAT unless the image was really made.
# The exit status alone does not tell: podman 4.3 exits 0 when it is stopped with SIGTERM (libpod's
# shutdown handler counts SIGTERM as a clean stop, for systemd), so a build stopped halfway looked like
# a success and ./mercato images went on to the next image. podman writes --iidfile only once the image
# is committed, so an empty one means the build did not finish. --format docker keeps HEALTHCHECK (the
# OCI format has no such field). --network host: a build stage's only network use is apt fetching from
# the machine's Debian mirror, and podman's netavark bridge (containers.conf) gives a container no route
# out and no resolver beyond the host's, which it cannot reach from the bridge (apt-get update then
# only warns, and the install fails); the build steps are our own Containerfiles.
_images_build() {
  local what="$1" iidfile id status=0
  shift
  iidfile="$(mktemp "${TMPDIR:-/tmp}/mercato-iid.XXXXXX")"
  nice -n 10 env CONTAINERS_CONF="${IMAGES_DIR}/containers.conf" \
    podman build --format docker --network host --iidfile "$iidfile" "$@" || status=$?
  id="$(cat "$iidfile")"
  rm -f "$iidfile"
  ((status == 0)) || die "$what failed (podman build exited with $status)"
  [[ -n "$id" ]] || die "$what did not finish: podman build exited 0 without making an image (stopped by SIGTERM?)"
}

# images_build_processes TAG: the build stage once (the sources, compiled with ccache), then one runtime
# image per process from it.
images_build_processes() {
  local tag="$1" name
  local -a targets=()
  for name in $(images_processes); do targets+=("mercato-$name"); done
  # The gateway's image takes node_modules/swagger-ui-dist and node_modules/uplot (npm ci, as `./mercato
  # deps` runs it): from the checkout, never downloaded inside the build.
  deps_npm
  log_info "build stage: compiling ${targets[*]} (ccache in a cache mount; the first time takes long)"
  _images_build "the build stage" --file "${IMAGES_DIR}/Containerfile" --target build \
    --build-arg "BASE=$IMAGES_BASE" --build-arg "TARGETS=${targets[*]}" \
    --tag "localhost/mercato/build:$tag" "$MERCATO_ROOT"
  for name in $(images_processes); do
    log_info "image localhost/mercato/$name:$tag"
    _images_build "the image of $name" --quiet \
      --file "${IMAGES_DIR}/Containerfile" --target runtime \
      --build-arg "BASE=$IMAGES_BASE" --build-arg "TARGETS=${targets[*]}" \
      --build-arg "PROCESS=$name" --build-arg "PORT=$(service_port "$name")" \
      --tag "localhost/mercato/$name:$tag" "$MERCATO_ROOT" >/dev/null
  done
}

# images_build_tools TAG: nats, etcd, postgres, redis and prometheus from their Debian packages.
images_build_tools() {
  local tag="$1" tool
  for tool in "${IMAGES_TOOLS[@]}"; do
    log_info "image localhost/mercato/$tool:$tag"
    _images_build "the image of $tool" --quiet \
      --file "${IMAGES_DIR}/${tool}.Containerfile" --build-arg "BASE=$IMAGES_BASE" \
      --tag "localhost/mercato/$tool:$tag" "$IMAGES_DIR" >/dev/null
  done
}

# images_list TAG: every image of this checkout with its size.
images_list() {
  local tag="$1" name
  printf '%-40s %s\n' IMAGE SIZE
  printf '%-40s %s\n' "$IMAGES_BASE" "$(images_size "$IMAGES_BASE")"
  for name in $(images_processes) "${IMAGES_TOOLS[@]}"; do
    if images_podman image exists "localhost/mercato/$name:$tag"; then
      printf '%-40s %s\n' "localhost/mercato/$name:$tag" "$(images_size "localhost/mercato/$name:$tag")"
    else
      printf '%-40s %s\n' "localhost/mercato/$name:$tag" "(not built)"
    fi
  done
}

cmd_images() {
  local what=all tag
  case "${1:-}" in
    "" | all) ;;
    base | tools | services | list) what="$1" ;;
    -h | --help)
      echo "usage: ./mercato images [all|base|services|tools|list]   (see ./mercato help)"
      return 0
      ;;
    *) die "images: unknown argument '$1' (all, base, services, tools, list)" ;;
  esac
  deps_ensure containers
  tag="$(images_tag)"
  [[ "$what" == list ]] && { images_list "$tag"; return 0; }
  images_base
  [[ "$what" == base ]] && return 0
  if [[ "$what" == all || "$what" == tools ]]; then images_build_tools "$tag"; fi
  if [[ "$what" == all || "$what" == services ]]; then images_build_processes "$tag"; fi
  images_list "$tag"
}
