// Crash points for crash-safety tests: `failpoint("relay.after_publish")` kills the process with
// SIGKILL — exactly what `kill -9` does, but at a chosen instruction instead of a random one — when
// the environment variable MERCATO_FAILPOINTS lists that name (comma-separated). Unset (always, outside
// those tests) it costs one branch on a flag read once at start.
//
// Thread-safety: safe from any thread.
#pragma once

#include <string_view>

namespace mercato {

void failpoint(std::string_view name) noexcept;
// The same, also armed by "name:qualifier" alone — e.g. "consumer.before_ack:payment.charge_requested"
// kills a consumer only after it handled that type of event.
void failpoint(std::string_view name, std::string_view qualifier) noexcept;

}  // namespace mercato
