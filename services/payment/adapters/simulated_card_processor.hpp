// A simulated card processor: decides with the domain's decide() after an optional, configured latency,
// so demos and tests can see what a real processor's round trip does to concurrent requests (for
// instance a retry arriving while the first attempt with its Idempotency-Key is still in progress).
//
// Thread-safety: thread-safe (no state). The latency is a blocking sleep on the calling I/O thread; it is
// a simulation knob (default 0), not something to run with under load.
#pragma once

#include <chrono>

#include "app/card_processor.hpp"

namespace mercato::payment {

class SimulatedCardProcessor final : public CardProcessor {
 public:
  explicit SimulatedCardProcessor(std::chrono::milliseconds latency = {}) : latency_(latency) {}
  Result<CardDecision> authorize(const ChargeRequest& request) override;

 private:
  std::chrono::milliseconds latency_;
};

}  // namespace mercato::payment
