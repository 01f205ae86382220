#include "api/handlers.hpp"

#include <gtest/gtest.h>

namespace mercato::user {
namespace {

http::Request from(std::string remote, const std::vector<std::string>& forwarded = {}) {
  http::Request req;
  req.remote_address = std::move(remote);
  for (auto& f : forwarded) req.headers.add("X-Forwarded-For", f);
  return req;
}

TEST(ClientAddress, IsThePeerUnlessThePeerIsATrustedProxy) {
  ClientAddressSettings s{.trusted_proxies = {"10.0.0.1"}};
  EXPECT_EQ(client_address(from("192.0.2.7"), s), "192.0.2.7");
  // An untrusted peer's X-Forwarded-For is its own claim: ignored.
  EXPECT_EQ(client_address(from("192.0.2.7", {"203.0.113.9"}), s), "192.0.2.7");
  // The trusted proxy's own entry is the last one; what the client wrote before it is ignored.
  EXPECT_EQ(client_address(from("10.0.0.1", {"1.1.1.1, 203.0.113.9"}), s), "203.0.113.9");
  EXPECT_EQ(client_address(from("10.0.0.1", {"1.1.1.1", "203.0.113.9 "}), s), "203.0.113.9");
  EXPECT_EQ(client_address(from("10.0.0.1"), s), "10.0.0.1");
}

}  // namespace
}  // namespace mercato::user
