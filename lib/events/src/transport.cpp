#include "mercato/events/transport.hpp"

#include <algorithm>
#include <cstdint>

namespace mercato::events {

bool is_command(std::string_view type) {
  auto dot = type.find('.');
  if (dot == std::string_view::npos) return false;
  std::string_view what = type.substr(dot + 1);
  return what.substr(0, what.find('.')).ends_with("_requested");
}

std::string topic_of(std::string_view type) {
  std::string topic(type.substr(0, type.find('.')));
  if (is_command(type)) topic += "-commands";
  return topic;
}

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
