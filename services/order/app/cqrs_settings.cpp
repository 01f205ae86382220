#include "app/cqrs_settings.hpp"

namespace mercato::order {

CqrsSettings read_cqrs_settings(const config::Section& section) {
  CqrsSettings s;
  s.snapshot_every = section.integer("snapshot_every", s.snapshot_every, 1, 1000);
  s.projector = section.boolean("projector", s.projector);
  s.projector_poll = section.duration("projector_poll", s.projector_poll);
  if (s.projector_poll < std::chrono::milliseconds(10) || s.projector_poll > std::chrono::minutes(1)) {
    throw config::ConfigError("cqrs.projector_poll: must be between 10ms and 1m");
  }
  s.projector_delay = section.duration("projector_delay", s.projector_delay);
  if (s.projector_delay < std::chrono::milliseconds(0) || s.projector_delay > std::chrono::seconds(1)) {
    throw config::ConfigError("cqrs.projector_delay: must be between 0ms and 1s");
  }
  return s;
}

}  // namespace mercato::order
