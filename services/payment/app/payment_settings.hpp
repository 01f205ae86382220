// The payment service's own settings: the `payment` section of its configuration (config/payment.yaml),
// read and checked once at start-up.
//
//   auto settings = payment::read_settings(ctx.config().section("payment"));  // throws config::ConfigError
//
// Thread-safety: plain values; read_settings runs at start-up.
#pragma once

#include <chrono>

#include "mercato/config/config.hpp"

namespace mercato::payment {

struct PaymentSettings {
  // Idempotency-Key records older than this are deleted at start-up (a retry with an older key is a new
  // payment); PaymentService::recover_keys refuses less than 24 h, so retries within a day are never
  // charged twice.
  std::chrono::milliseconds idempotency_retention{std::chrono::hours(48)};
  // The simulated card processor's round trip per charge (a blocking sleep on the request's thread).
  std::chrono::milliseconds processor_latency{0};
};

// Reads idempotency_retention and processor_latency; a bad value throws config::ConfigError naming the key.
PaymentSettings read_settings(const config::Section& section);

}  // namespace mercato::payment
