// The `cqrs` section of the order service's configuration (config/order.yaml): the event store's snapshot
// interval and the projector's, read and checked once at start-up.
//
// Thread-safety: plain values; read_cqrs_settings runs at start-up.
#pragma once

#include <chrono>
#include <cstdint>

#include "mercato/config/config.hpp"

namespace mercato::order {

struct CqrsSettings {
  std::int64_t snapshot_every = 8;  // 1..1000
  bool projector = true;
  std::chrono::milliseconds projector_poll{1000};
  std::chrono::milliseconds projector_delay{10};  // 0..1s
};

// A bad value throws config::ConfigError naming the key.
CqrsSettings read_cqrs_settings(const config::Section& section);

}  // namespace mercato::order
