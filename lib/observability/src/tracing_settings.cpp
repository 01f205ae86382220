#include "mercato/observability/tracing_settings.hpp"

#include <charconv>
#include <cstdlib>
#include <map>

namespace mercato::obs {
namespace {

Error invalid(std::string_view variable, const std::string& why) {
  return Error::validation(std::string(variable), std::string(variable) + ": " + why);
}

// A whole number within [min, max], or an error naming the variable.
Result<std::uint64_t> read_number(const EnvLookup& env, std::string_view name, std::uint64_t fallback,
                                  std::uint64_t min, std::uint64_t max) {
  auto text = env(name);
  if (!text || text->empty()) return fallback;
  std::uint64_t value = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc() || ptr != end) return invalid(name, "'" + *text + "' is not a whole number");
  if (value < min || value > max) {
    return invalid(name, "'" + *text + "' is outside " + std::to_string(min) + ".." + std::to_string(max));
  }
  return value;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> percent_decode(std::string_view text, std::string_view variable) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return invalid(variable, "a '%' must start %XX");
    int hi = hex_digit(text[i + 1]);
    int lo = hex_digit(text[i + 2]);
    if (hi < 0 || lo < 0) return invalid(variable, "a '%' must start %XX");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Result<std::vector<std::pair<std::string, std::string>>> read_resource_attributes(std::string_view text) {
  constexpr std::string_view kName = "OTEL_RESOURCE_ATTRIBUTES";
  std::vector<std::pair<std::string, std::string>> out;
  while (!text.empty()) {
    auto item = text.substr(0, text.find(','));
    text.remove_prefix(std::min(text.size(), item.size() + 1));
    item = trim(item);
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string_view::npos || trim(item.substr(0, eq)).empty()) {
      return invalid(kName, "'" + std::string(item) + "' is not key=value");
    }
    MERCATO_ASSIGN_OR_RETURN(auto key, percent_decode(trim(item.substr(0, eq)), kName));
    MERCATO_ASSIGN_OR_RETURN(auto value, percent_decode(trim(item.substr(eq + 1)), kName));
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

Result<SamplerSettings> read_sampler(const EnvLookup& env) {
  static const std::map<std::string, SamplerKind, std::less<>> kKinds{
      {"always_on", SamplerKind::kAlwaysOn},
      {"always_off", SamplerKind::kAlwaysOff},
      {"traceidratio", SamplerKind::kTraceIdRatio},
      {"parentbased_always_on", SamplerKind::kParentBasedAlwaysOn},
      {"parentbased_always_off", SamplerKind::kParentBasedAlwaysOff},
      {"parentbased_traceidratio", SamplerKind::kParentBasedTraceIdRatio},
  };
  SamplerSettings s;
  if (auto name = env("OTEL_TRACES_SAMPLER"); name && !name->empty()) {
    auto it = kKinds.find(*name);
    if (it == kKinds.end()) {
      return invalid("OTEL_TRACES_SAMPLER",
                     "'" + *name +
                         "' is not one of always_on, always_off, traceidratio, parentbased_always_on, "
                         "parentbased_always_off, parentbased_traceidratio");
    }
    s.kind = it->second;
  }
  if (auto arg = env("OTEL_TRACES_SAMPLER_ARG"); arg && !arg->empty()) {
    bool ratio_kind = s.kind == SamplerKind::kTraceIdRatio || s.kind == SamplerKind::kParentBasedTraceIdRatio;
    if (!ratio_kind) {
      return invalid("OTEL_TRACES_SAMPLER_ARG", "is only for traceidratio and parentbased_traceidratio");
    }
    char* end = nullptr;
    double ratio = std::strtod(arg->c_str(), &end);
    if (end != arg->c_str() + arg->size() || !(ratio >= 0.0 && ratio <= 1.0)) {
      return invalid("OTEL_TRACES_SAMPLER_ARG", "'" + *arg + "' is not a ratio within [0, 1]");
    }
    s.ratio = ratio;
  }
  return s;
}

}  // namespace

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

EnvLookup env_of(std::vector<std::pair<std::string, std::string>> variables) {
  return [vars = std::move(variables)](std::string_view name) -> std::optional<std::string> {
    for (const auto& [k, v] : vars) {
      if (k == name) return v;
    }
    return std::nullopt;
  };
}

Result<OtlpEndpoint> parse_otlp_endpoint(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return Error::validation("endpoint",
                             "'" + std::string(url) + "' must start with http:// (https is not supported)");
  }
  OtlpEndpoint e;
  e.url = std::string(url);
  auto rest = url.substr(kScheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  e.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (authority.empty()) return Error::validation("endpoint", "'" + std::string(url) + "' names no host");
  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {  // [::1]:4318
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return Error::validation("endpoint", "'" + std::string(url) + "' has an unclosed '['");
    host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return Error::validation("endpoint", "'" + std::string(url) + "' has junk after ']'");
      port = after.substr(1);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return Error::validation("endpoint", "'" + std::string(url) + "' names no host");
  e.host = std::string(host);
  if (!port.empty() || authority.back() == ':') {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || ptr != port.data() + port.size() || value < 1 || value > 65535) {
      return Error::validation("endpoint", "'" + std::string(url) + "' has a bad port");
    }
    e.port = static_cast<std::uint16_t>(value);
  }
  if (e.target.find_first_of("?# ") != std::string::npos) {
    return Error::validation("endpoint",
                             "'" + std::string(url) + "': no query, fragment or space in the path");
  }
  return e;
}

Result<TracingSettings> read_tracing_settings(const EnvLookup& env, std::string_view default_service_name) {
  TracingSettings s;
  s.service_name = std::string(default_service_name);
  if (auto name = env("OTEL_SERVICE_NAME"); name && !name->empty()) s.service_name = *name;
  if (auto attrs = env("OTEL_RESOURCE_ATTRIBUTES"); attrs && !attrs->empty()) {
    MERCATO_ASSIGN_OR_RETURN(auto parsed, read_resource_attributes(*attrs));
    for (auto& [k, v] : parsed) {
      // OTEL_SERVICE_NAME wins over a service.name here (the specification's order); without it, this one.
      if (k == "service.name") {
        if (!env("OTEL_SERVICE_NAME").value_or("").empty()) continue;
        s.service_name = v;
        continue;
      }
      s.resource_attributes.emplace_back(std::move(k), std::move(v));
    }
  }
  MERCATO_ASSIGN_OR_RETURN(s.sampler, read_sampler(env));
  MERCATO_ASSIGN_OR_RETURN(auto delay, read_number(env, "OTEL_BSP_SCHEDULE_DELAY", 5000, 1, 3'600'000));
  s.schedule_delay = std::chrono::milliseconds(delay);
  MERCATO_ASSIGN_OR_RETURN(auto timeout, read_number(env, "OTEL_BSP_EXPORT_TIMEOUT", 30000, 1, 3'600'000));
  s.export_timeout = std::chrono::milliseconds(timeout);
  MERCATO_ASSIGN_OR_RETURN(auto queue, read_number(env, "OTEL_BSP_MAX_QUEUE_SIZE", 2048, 1, 10'000'000));
  s.max_queue_size = queue;
  MERCATO_ASSIGN_OR_RETURN(auto batch,
                           read_number(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, 1, 10'000'000));
  if (batch > queue) {
    return invalid(
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        std::to_string(batch) + " is larger than OTEL_BSP_MAX_QUEUE_SIZE (" + std::to_string(queue) + ")");
  }
  s.max_export_batch_size = batch;

  if (auto disabled = env("OTEL_SDK_DISABLED"); disabled && !disabled->empty()) {
    if (*disabled != "true" && *disabled != "false")
      return invalid("OTEL_SDK_DISABLED", "must be true or false");
    if (*disabled == "true") return s;
  }
  std::string url;
  std::string_view variable;
  if (auto traces = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); traces && !traces->empty()) {
    url = *traces;
    variable = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
  } else if (auto base = env("OTEL_EXPORTER_OTLP_ENDPOINT"); base && !base->empty()) {
    url = *base;
    if (url.back() == '/') url.pop_back();
    url += "/v1/traces";
    variable = "OTEL_EXPORTER_OTLP_ENDPOINT";
  }
  if (url.empty()) return s;
  auto endpoint = parse_otlp_endpoint(url);
  if (!endpoint) return invalid(variable, endpoint.error().message);
  s.endpoint = std::move(*endpoint);
  return s;
}

}  // namespace mercato::obs
