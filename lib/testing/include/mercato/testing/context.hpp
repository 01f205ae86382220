// A service::Context for tests of lib/service and of a service's wiring: an empty configuration (or the
// YAML given), a quiet logger, its own registry, one I/O thread (not started: a test that serves
// requests starts it) and a client. Header-only: the test links mercato_service itself.
//
//   testing::TestContext t("database: {path: /tmp/x.db}");
//   add_standard_routes(t.context);
#pragma once

#include <string>
#include <string_view>

#include "mercato/service/service.hpp"

namespace mercato::testing {

struct TestContext {
  explicit TestContext(std::string_view yaml = "", std::string name = "test")
      : source(config::Source::from_strings(yaml)),
        context(std::move(name), source, logger, metrics, io, client) {}

  config::Source source;
  obs::Logger logger{"test", obs::LogLevel::kError};
  obs::Registry metrics;
  http::IoPool io{1};
  http::Client client{io, {}};
  service::Context context;
};

}  // namespace mercato::testing
