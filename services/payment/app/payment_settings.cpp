#include "app/payment_settings.hpp"

namespace mercato::payment {

PaymentSettings read_settings(const config::Section& section) {
  PaymentSettings s;
  s.idempotency_retention = section.duration("idempotency_retention", s.idempotency_retention);
  s.processor_latency = section.duration("processor_latency", s.processor_latency);
  return s;
}

}  // namespace mercato::payment
