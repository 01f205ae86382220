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

TEST(ClientAddress, ATrustedNetworkCoversEveryAddressInIt) {
  // A container network: the gateway's address is assigned at start, its network is known.
  ClientAddressSettings s{.trusted_proxies = {"10.89.0.0/16", "fd00:1::/64"}};
  EXPECT_EQ(client_address(from("10.89.3.17", {"203.0.113.9"}), s), "203.0.113.9");
  EXPECT_EQ(client_address(from("10.90.0.1", {"203.0.113.9"}), s), "10.90.0.1");
  EXPECT_EQ(client_address(from("fd00:1::5", {"203.0.113.9"}), s), "203.0.113.9");
  EXPECT_EQ(client_address(from("fd00:2::5", {"203.0.113.9"}), s), "fd00:2::5");
  // A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d.
  EXPECT_EQ(client_address(from("::ffff:10.89.0.4", {"203.0.113.9"}), s), "203.0.113.9");
  // A prefix that is not a whole number of bytes.
  ClientAddressSettings odd{.trusted_proxies = {"192.0.2.64/26"}};
  EXPECT_TRUE(is_trusted_proxy("192.0.2.64", odd));
  EXPECT_TRUE(is_trusted_proxy("192.0.2.127", odd));
  EXPECT_FALSE(is_trusted_proxy("192.0.2.128", odd));
  EXPECT_FALSE(is_trusted_proxy("192.0.2.63", odd));
  EXPECT_FALSE(is_trusted_proxy("not an address", odd));
}

TEST(ClientAddress, EntriesAreAddressesOrNetworks) {
  for (const char* good : {"127.0.0.1", "::1", "10.89.0.0/16", "0.0.0.0/0", "fd00::/8", "192.0.2.1/32"})
    EXPECT_TRUE(valid_trusted_proxy(good)) << good;
  for (const char* bad : {"", "gateway", "10.89.0.0/33", "10.89.0.0/", "10.89.0.0/x", "10.89.0.0/16/1",
                          "::1/129", "10.89.0.0 /16", "10.89.0.0/-1"})
    EXPECT_FALSE(valid_trusted_proxy(bad)) << bad;
}

}  // namespace
}  // namespace mercato::user
