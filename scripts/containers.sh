# shellcheck shell=bash
# `./mercato test --containers` (opt-in: minutes, not part of `./mercato test`): the whole system in
# containers. Builds the images (./mercato images), starts deploy/compose.yaml with podman-compose under
# the project name mercato-test-<pid>, waits (bounded) for the gateway's /health/ready, runs the README's
# walk-through through the gateway on 127.0.0.1, checks that /docs and /dashboard have their npm files,
# runs the saga checker (./mercato check), checks that the user service counts logins against the
# client the gateway names, and finally removes everything it made: containers, the network, the
# volumes, the secrets folder.
#
# The checker reads each service's own port; deploy/compose.test.yaml publishes them on 127.0.0.1 at
# ports podman picks (the test's only addition to the compose file), so all traffic stays on loopback.
#
# Environment: MERCATO_CONTAINERS_TIMEOUT (seconds to wait for the system to be ready, default 180),
# MERCATO_CONTAINERS_NO_BUILD=1 (use the images as they are).

# _containers_compose ARGS...: podman-compose on the project's files with its own containers.conf.
_containers_compose() {
  CONTAINERS_CONF="${IMAGES_DIR}/containers.conf" podman-compose --project-name "$CONTAINERS_PROJECT" \
    -f "${MERCATO_ROOT}/deploy/compose.yaml" -f "${MERCATO_ROOT}/deploy/compose.test.yaml" "$@"
}

# containers_down: everything the test made, whatever state it is in. Runs once, from the EXIT trap.
containers_down() {
  [[ -n "${CONTAINERS_PROJECT:-}" ]] || return 0
  log_info "removing the containers, network and volumes of $CONTAINERS_PROJECT"
  # The anonymous volumes podman made for an image's VOLUME that compose.yaml mounts nothing on (the
  # gateway's /var/lib/mercato): `down -v` leaves them, so they are read off our containers first.
  local volume container
  local -a anonymous=()
  for container in $(images_podman ps -a -q --filter "label=io.podman.compose.project=$CONTAINERS_PROJECT"); do
    for volume in $(images_podman inspect --format '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}'       "$container" 2>/dev/null); do
      anonymous+=("$volume")
    done
  done
  _containers_compose down -v >/dev/null 2>&1 || true
  # podman-compose 1.0 leaves a volume behind when a container was never created: by label, ours only.
  for volume in $(images_podman volume ls -q --filter "label=io.podman.compose.project=$CONTAINERS_PROJECT")     "${anonymous[@]}"; do
    images_podman volume rm -f "$volume" >/dev/null 2>&1 || true
  done
  # ...and its network, which `down` leaves too.
  images_podman network rm -f "${CONTAINERS_PROJECT}_default" >/dev/null 2>&1 || true
  [[ -n "${CONTAINERS_SECRETS:-}" ]] && rm -rf "$CONTAINERS_SECRETS"
  # The test leaves nothing behind, or says so (and fails).
  local left=""
  [[ -z "$(images_podman ps -a -q --filter "label=io.podman.compose.project=$CONTAINERS_PROJECT")" ]] ||
    left+=" containers"
  for volume in "${anonymous[@]}"; do
    images_podman volume exists "$volume" 2>/dev/null && left+=" volume:$volume"
  done
  images_podman network exists "${CONTAINERS_PROJECT}_default" 2>/dev/null && left+=" network"
  CONTAINERS_PROJECT=""
  if [[ -n "$left" ]]; then
    log_error "left behind:$left"
    exit 1
  fi
}

# _containers_secrets: the client secrets, the admin's password and PostgreSQL's, as compose.yaml reads
# them (files readable by the images' uid 10001, hashes in the environment).
_containers_secrets() {
  local name secret
  CONTAINERS_SECRETS="$(mktemp -d "${TMPDIR:-/tmp}/mercato-compose.XXXXXX")"
  for name in $(service_names); do
    [[ "$name" == user ]] && continue
    secret="$(_random_secret)"
    printf '%s' "$secret" >"$CONTAINERS_SECRETS/$name.secret"
    export "MERCATO_${name^^}_CLIENT_HASH=$(printf '%s' "$secret" | sha256sum | cut -d' ' -f1)"
  done
  _random_secret >"$CONTAINERS_SECRETS/admin-password"
  chown -R 10001:10001 "$CONTAINERS_SECRETS"
  chmod 0500 "$CONTAINERS_SECRETS"
  chmod 0400 "$CONTAINERS_SECRETS"/*
  MERCATO_POSTGRES_PASSWORD="$(_random_secret)"
  export MERCATO_COMPOSE_SECRETS="$CONTAINERS_SECRETS" MERCATO_POSTGRES_PASSWORD
}

# _containers_port SERVICE PORT: the host port podman published SERVICE's PORT on.
_containers_port() {
  images_podman port "${CONTAINERS_PROJECT}_$1_1" "$2/tcp" | head -n 1 | sed 's/.*://'
}

# _containers_walkthrough GATEWAY_URL: the README's walk-through; fails on the first unexpected answer.
_containers_walkthrough() {
  local gw="$1" admin token order id status deadline
  local -a auth
  admin="$(curl --noproxy '*' -sS --max-time 10 -X POST "$gw/api/auth/login" \
    -d "$(jq -cn --arg p "$(cat "$CONTAINERS_SECRETS/admin-password")" '{email: "admin@mercato.local", password: $p}')" |
    jq -r '.access_token // empty')"
  [[ -n "$admin" ]] || die "walk-through: the admin cannot log in"
  for body in '{"name":"Mug","price_cents":1299,"available":10}|mug' '{"name":"Teapot","price_cents":3450,"available":3}|teapot'; do
    [[ "$(curl --noproxy '*' -sS --max-time 10 -o /dev/null -w '%{http_code}' -X PUT "$gw/api/inventory/${body#*|}" \
      -H "Authorization: Bearer $admin" -d "${body%|*}")" == 20[01] ]] || die "walk-through: stocking ${body#*|} failed"
  done
  curl --noproxy '*' -sS --max-time 10 -X POST "$gw/api/users" -H 'Content-Type: application/json' \
    -d '{"email":"ann@example.com","name":"Ann Lee","password":"correct horse"}' | jq -e .id >/dev/null ||
    die "walk-through: registration failed"
  token="$(curl --noproxy '*' -sS --max-time 10 -X POST "$gw/api/auth/login" \
    -d '{"email":"ann@example.com","password":"correct horse"}' | jq -r '.access_token // empty')"
  [[ -n "$token" ]] || die "walk-through: the customer cannot log in"
  auth=(-H "Authorization: Bearer $token")
  order="$(curl --noproxy '*' -sS --max-time 10 -X POST "$gw/api/orders" "${auth[@]}" -d '{
    "items":[{"product_id":"mug","quantity":2},{"product_id":"teapot","quantity":1,"price_cents":3450}],
    "payment_token":"tok_visa",
    "shipping_address":{"name":"Ann Lee","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"}}')"
  [[ "$(jq -r .total_cents <<<"$order")" == 6048 ]] || die "walk-through: the order is not 6048 cents: $order"
  id="$(jq -r .id <<<"$order")"
  # The saga confirms it a moment later: poll, bounded.
  deadline=$((EPOCHSECONDS + 30))
  while :; do
    status="$(curl --noproxy '*' -sS --max-time 5 "$gw/api/orders/$id" "${auth[@]}" | jq -r .status)"
    [[ "$status" == confirmed ]] && break
    ((EPOCHSECONDS < deadline)) || die "walk-through: order $id is '$status', not confirmed, after 30 s"
    sleep 0.2
  done
  [[ "$(curl --noproxy '*' -sS --max-time 5 "$gw/api/inventory/mug" | jq -c '[.available, .reserved, .sold]')" == '[8,0,2]' ]] ||
    die "walk-through: the mug's stock is not 8 available, 2 sold"
  [[ "$(curl --noproxy '*' -sS --max-time 5 -o /dev/null -w '%{http_code}' "$gw/api/orders/$id")" == 401 ]] ||
    die "walk-through: an order is readable without a token"
  log_note "walk-through: order $id confirmed, stock and authorization as the README says"
}

# _containers_web GATEWAY_URL: the files the gateway reads from npm packages at start (its image ships
# them under its working directory): Swagger UI at /docs, uPlot for /dashboard. A gateway without them
# still starts (and only warns), so this is where a missing copy shows.
_containers_web() {
  local gw="$1" path code
  # Every file the gateway reads from node_modules (deploy/containers/collect.sh copies just these).
  for path in /docs /docs/swagger-ui.css /docs/swagger-ui-bundle.js /docs/swagger-ui-standalone-preset.js \
    /docs/favicon-32x32.png /dashboard /dashboard/assets/uPlot.iife.min.js /dashboard/assets/uPlot.min.css; do
    code="$(curl --noproxy '*' -sS --max-time 10 -o /dev/null -w '%{http_code}' "$gw$path")"
    [[ "$code" == 200 ]] || die "the gateway answers $code for $path (its npm files are not in the image?)"
  done
  log_note "web: /docs and /dashboard with their npm files"
}

# _containers_client_address GATEWAY_URL: the user service counts failed logins per client address, the
# one the gateway names in X-Forwarded-For (compose trusts the containers' network there:
# auth.trusted_proxies), not the gateway's own address. This client's failures are run up to the
# per-address limit (the user service's 429); then a failed login sent to the gateway from another
# address (127.0.0.1 inside the gateway's container, with bash's /dev/tcp: the image has no HTTP client)
# must still get its 401, which it would not if every login counted against the gateway.
_containers_client_address() {
  local gw="$1" i body status=""
  # Bounded: auth.login_limit.per_address_burst is 20, the gateway's own login limit a burst of 50.
  for ((i = 0; i < 40; i++)); do
    body="$(curl --noproxy '*' -sS --max-time 10 -w '\n%{http_code}' -X POST "$gw/api/auth/login" \
      -d "{\"email\":\"nobody$i@example.com\",\"password\":\"not the password\"}")"
    status="${body##*$'\n'}"
    [[ "$status" == 401 ]] && continue
    [[ "$status" == 429 && "$body" == *"failed logins"* ]] && break
    die "client address: failed login $i answered $status: $body"
  done
  [[ "$status" == 429 ]] || die "client address: 40 failed logins and no 429 from the user service"
  # shellcheck disable=SC2016  # expanded by bash inside the container
  status="$(images_podman exec "${CONTAINERS_PROJECT}_gateway_1" bash -c '
    body="{\"email\":\"somebody@example.com\",\"password\":\"not the password\"}"
    exec 3<>"/dev/tcp/127.0.0.1/${MERCATO_HEALTH_PORT:?}" || exit 1
    printf "POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" \
      "${#body}" "$body" >&3
    read -r -t 10 _ status _ <&3 && echo "$status"')" || status="no answer"
  [[ "$status" == 401 ]] ||
    die "client address: another client's login answered $status: logins count against the gateway's address (auth.trusted_proxies)"
  log_note "client address: the per-address login limit counts the client the gateway names, not the gateway"
}

cmd_test_containers() {
  local gateway_port name deadline
  command -v podman-compose >/dev/null 2>&1 || deps_ensure containers
  if [[ "${MERCATO_CONTAINERS_NO_BUILD:-0}" != 1 ]]; then
    cmd_images all
  fi
  export MERCATO_IMAGE_TAG
  MERCATO_IMAGE_TAG="$(images_tag)"
  CONTAINERS_PROJECT="mercato-test-$$"
  trap containers_down EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  _containers_secrets
  gateway_port="$(free_port)"
  export MERCATO_GATEWAY_PUBLISH="$gateway_port"
  log_info "podman-compose up ($CONTAINERS_PROJECT; gateway on 127.0.0.1:$gateway_port)"
  _containers_compose up -d >/dev/null 2>&1 || { _containers_compose logs 2>&1 | tail -n 50 >&2; die "podman-compose up failed"; }
  deadline=$((EPOCHSECONDS + ${MERCATO_CONTAINERS_TIMEOUT:-180}))
  until [[ "$(http_code "http://127.0.0.1:$gateway_port/health/ready" 2)" == 200 ]]; do
    if ((EPOCHSECONDS >= deadline)); then
      _containers_compose ps >&2 || true
      _containers_compose logs 2>&1 | tail -n 80 >&2
      die "the system in containers is not ready after ${MERCATO_CONTAINERS_TIMEOUT:-180} s"
    fi
    sleep 1
  done
  # Every service ready as well (the gateway is ready before the services it routes to).
  for name in $(service_names); do
    export "MERCATO_${name^^}_PORT=$(_containers_port "$name" "$(service_port "$name")")"
    local port_var="MERCATO_${name^^}_PORT"
    wait_http_ok "http://127.0.0.1:${!port_var}/health/ready" $((deadline > EPOCHSECONDS ? deadline - EPOCHSECONDS : 1)) ||
      die "$name is not ready in its container"
  done
  log_info "the system is up in containers; the README walk-through"
  _containers_walkthrough "http://127.0.0.1:$gateway_port"
  _containers_web "http://127.0.0.1:$gateway_port"
  log_info "the saga checker"
  MERCATO_SECRETS_DIR="$CONTAINERS_SECRETS" cmd_check
  # Last: it leaves this client locked out of logins for a minute.
  _containers_client_address "http://127.0.0.1:$gateway_port"
  log_info "containers: PASSED"
}
