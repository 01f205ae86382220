#include "adapters/simulated_card_processor.hpp"

#include <thread>

namespace mercato::payment {

Result<CardDecision> SimulatedCardProcessor::authorize(const ChargeRequest& request) {
  if (latency_.count() > 0) std::this_thread::sleep_for(latency_);
  return decide(request.payment_token);
}

}  // namespace mercato::payment
