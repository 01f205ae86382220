// Tracing's configuration, read once at start from the standard OpenTelemetry environment variables
// and validated there: a value that does not parse stops the process with a message naming the
// variable (Result error → config::ConfigError in lib/service).
//
//   auto settings = obs::read_tracing_settings(obs::process_env(), "order");
//   if (!settings) { print(settings.error().message); exit(2); }
//   if (settings->enabled()) { ... make the exporter and the Tracer ... }
//
// Variables (the standard environment variables of OpenTelemetry SDKs):
//   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT  the URL spans are POSTed to, used as is
//   OTEL_EXPORTER_OTLP_ENDPOINT         a base URL: /v1/traces is appended (when the one above is unset)
//   OTEL_SDK_DISABLED                   "true": tracing off whatever the endpoint
//   OTEL_SERVICE_NAME                   service.name (default: the Mercato service's name)
//   OTEL_RESOURCE_ATTRIBUTES            key=value,key=value (values percent-encoded)
//   OTEL_TRACES_SAMPLER                 always_on | always_off | traceidratio | parentbased_always_on
//                                       (default) | parentbased_always_off | parentbased_traceidratio
//   OTEL_TRACES_SAMPLER_ARG             the ratio for the ratio samplers, within [0, 1] (default 1)
//   OTEL_BSP_SCHEDULE_DELAY             ms between exports (default 5000)
//   OTEL_BSP_MAX_QUEUE_SIZE             spans held at most; more are dropped (default 2048)
//   OTEL_BSP_MAX_EXPORT_BATCH_SIZE      spans per request at most, ≤ the queue size (default 512)
//   OTEL_BSP_EXPORT_TIMEOUT             ms one batch may take, retries included (default 30000)
// Tracing is off (no exporter, no Tracer: only traceparent propagation) when neither endpoint is set.
// Only http:// endpoints: the collector this talks to is a local agent or sidecar.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mercato/core/result.hpp"
#include "mercato/observability/tracing.hpp"

namespace mercato::obs {

// Where the spans go, split for a client: http://<host>:<port><target>.
struct OtlpEndpoint {
  std::string url;  // as configured (with /v1/traces appended when it came from the base variable)
  std::string host;
  std::uint16_t port = 80;
  std::string target = "/v1/traces";
};

struct TracingSettings {
  std::optional<OtlpEndpoint> endpoint;  // nullopt: tracing off
  std::string service_name;
  std::vector<std::pair<std::string, std::string>> resource_attributes;  // service.name not among them
  SamplerSettings sampler;
  std::chrono::milliseconds schedule_delay{5000};
  std::size_t max_queue_size = 2048;
  std::size_t max_export_batch_size = 512;
  std::chrono::milliseconds export_timeout{30000};

  bool enabled() const noexcept { return endpoint.has_value(); }
};

// Looks a variable up: its value, or nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
// The process environment (getenv).
EnvLookup process_env();
// A fixed set of variables (tests, and a host that read its environment from envp).
EnvLookup env_of(std::vector<std::pair<std::string, std::string>> variables);

// Reads and validates the variables above. An empty variable counts as unset (as the specification
// says). Errors are validation errors whose field is the variable's name.
Result<TracingSettings> read_tracing_settings(const EnvLookup& env, std::string_view default_service_name);

// "http://host:port/path" → its parts; only http, a host, an optional port 1..65535, an optional path.
Result<OtlpEndpoint> parse_otlp_endpoint(std::string_view url);

}  // namespace mercato::obs
