// Reading the Prometheus text exposition format 0.0.4 — the format Registry::render() writes — back into
// samples: what the gateway's dashboard needs to turn every instance's GET /metrics into rates, error
// ratios and latency quantiles without a Prometheus server beside it.
//
//   auto samples = obs::parse_exposition(body);          // Error::malformed naming the line otherwise
//   for (const auto& s : *samples)
//     if (s.name == "http_server_requests_total" && s.label("status_class") == "5xx") errors += s.value;
//
// Our own because no Debian package parses the format for C++ (prometheus-cpp only writes it), and what
// is read here is small: comment lines are skipped (HELP and TYPE are not needed to sum series), label
// values are unescaped (\\ \" \n), values are Go-style floats (+Inf, -Inf, NaN), and an optional
// timestamp after the value is accepted and ignored.
//
// Thread-safety: pure functions over plain values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mercato/core/result.hpp"
#include "mercato/observability/metrics.hpp"

namespace mercato::obs {

struct Sample {
  std::string name;  // with its suffix as written: foo_bucket, foo_sum, foo_count
  Labels labels;     // in the order written
  double value = 0;

  // The value of label `key`, "" when the sample has none.
  std::string_view label(std::string_view key) const noexcept;
};

// Every sample of `text`, in order. A line that is not a comment, blank, or `name{labels} value [ts]`
// is refused with Error::malformed naming its number; the samples before it are not returned.
Result<std::vector<Sample>> parse_exposition(std::string_view text);

}  // namespace mercato::obs
