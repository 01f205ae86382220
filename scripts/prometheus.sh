# shellcheck shell=bash
# Prometheus for `./mercato up --observability`: the configuration ./mercato up writes and the file of
# scrape targets it rewrites whenever its instances change. Sourced after scripts/lib.sh.
#
# Prometheus (Debian package `prometheus`) listens on 127.0.0.1:MERCATO_PROMETHEUS_PORT (9090) only,
# keeps its data under var/prometheus/data and evaluates deploy/prometheus/rules.yml. Its one scrape job
# takes its targets from var/prometheus/targets.json through file-based service discovery: Prometheus
# watches that file (inotify) and follows every rewrite within moments, without a reload, so
# `./mercato scale` adds or removes a target just by up.sh writing the file again. Each target carries
# the labels `service` (user, order, ..., gateway, etcd, prometheus), `instance` (127.0.0.1:PORT, the
# convention, unique across instances of one service) and `process` (up's name for the process serving
# it: user@2 for a scaled instance, monolith for a module of the monolith).
#
# Why file-based discovery rather than a static target list and a reload on every change: the file is the
# one interface Prometheus offers for "someone else knows the instances" without a plugin, and up.sh
# already knows them (var/run/ports); with etcd discovery the same file could be written by a watcher.

# prometheus_scrape_interval: MERCATO_PROMETHEUS_SCRAPE_INTERVAL (default 5s) after checking it is a
# Prometheus duration of whole ms, s or m (a bad value would only show up as Prometheus refusing its
# configuration at start).
prometheus_scrape_interval() {
  local interval="${MERCATO_PROMETHEUS_SCRAPE_INTERVAL:-5s}"
  [[ "$interval" =~ ^[1-9][0-9]*(ms|s|m)$ ]] ||
    die "MERCATO_PROMETHEUS_SCRAPE_INTERVAL must be a duration such as 500ms, 5s or 1m (got '$interval')"
  echo "$interval"
}

# prometheus_config_file DIR RULES: writes DIR/prometheus.yml (scrape job "mercato" from
# DIR/targets.json, the rule file RULES) and prints its path.
prometheus_config_file() {
  local dir="$1" rules="$2" interval file
  [[ -n "$dir" && -f "$rules" ]] || die "usage: prometheus_config_file DIR RULES (an existing rule file)"
  [[ "$dir$rules" != *'"'* && "$dir$rules" != *\\* ]] || die "prometheus_config_file: unsupported character in '$dir' or '$rules'"
  interval="$(prometheus_scrape_interval)"
  mkdir -p "$dir"
  file="$dir/prometheus.yml"
  # The rules evaluate as often as targets are scraped, so an alert's `for` counts in the same steps.
  cat >"$file.tmp" <<YAML
# Written by ./mercato up --observability (scripts/prometheus.sh); rewritten at every start.
global:
  scrape_interval: ${interval}
  scrape_timeout: ${interval}
  evaluation_interval: ${interval}
rule_files:
  - "${rules}"
scrape_configs:
  - job_name: mercato
    metrics_path: /metrics
    file_sd_configs:
      - files: ["${dir}/targets.json"]
YAML
  mv -f "$file.tmp" "$file"
  echo "$file"
}

# prometheus_targets_json ENTRY...: the file_sd JSON for entries "SERVICE PROCESS PORT" (one target
# group per entry, so each keeps its own labels). Through jq, so a name can never break the JSON.
prometheus_targets_json() {
  local entry service process port
  for entry in "$@"; do
    read -r service process port <<<"$entry"
    jq -n --arg service "$service" --arg process "$process" --arg address "127.0.0.1:$port" \
      '{targets: [$address], labels: {service: $service, instance: $address, process: $process}}'
  done | jq -s .
}

# prometheus_write_targets FILE ENTRY...: writes the targets atomically (a rename, so Prometheus never
# reads half a file).
prometheus_write_targets() {
  local file="$1"
  shift
  prometheus_targets_json "$@" >"$file.tmp" || die "cannot write $file"
  mv -f "$file.tmp" "$file"
}

# prometheus_command CONFIG DATA_DIR PORT: the command line, one word per line (mapfile it).
prometheus_command() {
  local config="$1" data="$2" port="$3"
  [[ -f "$config" && -n "$data" && "$port" =~ ^[0-9]+$ ]] || die "usage: prometheus_command CONFIG DATA_DIR PORT"
  # Local runs keep two days of samples: enough to look back at yesterday, small on a laptop.
  printf '%s\n' prometheus --config.file="$config" --storage.tsdb.path="$data" \
    --storage.tsdb.retention.time=2d --web.listen-address="127.0.0.1:${port}" --log.level=warn
}
