// Where emails go. The file outbox (adapters/file_outbox.hpp) is the adapter today; an SMTP or provider
// API adapter would implement the same interface.
//
// Thread-safety: implementations must be safe to call from several I/O threads at once.
#pragma once

#include "domain/notification.hpp"
#include "mercato/core/result.hpp"

namespace mercato::notification {

class Mailer {
 public:
  virtual ~Mailer() = default;
  // Hands one email over for delivery; an error means it was not handed over.
  virtual Result<void> send(const Email& email) = 0;
  // Readiness: could an email be handed over now?
  virtual Result<void> ping() = 0;
};

}  // namespace mercato::notification
