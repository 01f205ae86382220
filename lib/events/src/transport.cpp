#include "mercato/events/transport.hpp"

#include <algorithm>
#include <cstdint>

namespace mercato::events {

std::string topic_of(std::string_view type) { return std::string(type.substr(0, type.find('.'))); }

int partition_of(std::string_view subject, int partitions) {
  std::uint32_t hash = 2166136261u;
  for (unsigned char c : subject) {
    hash ^= c;
    hash *= 16777619u;
  }
  return partitions <= 1 ? 0 : static_cast<int>(hash % static_cast<std::uint32_t>(partitions));
}

std::chrono::milliseconds retry_backoff(const SubscriptionOptions& options, int attempt) {
  auto delay = options.retry_delay;
  for (int i = 1; i < attempt && delay < options.max_retry_delay; ++i) delay *= 2;
  return std::min(delay, options.max_retry_delay);
}

}  // namespace mercato::events
