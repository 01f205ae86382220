#include "mercato/service/saga.hpp"

namespace mercato::service {

SagaMode read_saga_mode(const config::Section& saga) {
  auto mode = saga.choice("mode", "orchestration", {"orchestration", "choreography", "none"});
  if (mode == "choreography") return SagaMode::kChoreography;
  if (mode == "none") return SagaMode::kNone;
  return SagaMode::kOrchestration;
}

}  // namespace mercato::service
