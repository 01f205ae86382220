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
  return s;
}

}  // namespace mercato::order
