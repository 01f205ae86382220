// The card processor the service charges through. Today the only adapter is a simulation
// (adapters/simulated_card_processor.hpp) whose decisions are the domain's decide(); a real processor is
// another adapter behind this interface.
//
// Thread-safety: implementations must be safe to call from several I/O threads at once.
#pragma once

#include "domain/payment.hpp"
#include "mercato/core/result.hpp"

namespace mercato::payment {

class CardProcessor {
 public:
  virtual ~CardProcessor() = default;
  // Approves or declines the charge; kUnprocessable (field "payment_token") for a token it does not know.
  virtual Result<CardDecision> authorize(const ChargeRequest& request) = 0;
};

}  // namespace mercato::payment
