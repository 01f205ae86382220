#include "api/hop_by_hop.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mercato::gateway {
namespace {

std::string names(const http::Headers& h) {
  std::string out;
  for (const auto& [name, value] : h.entries()) out += std::string(name) + ";";
  return out;
}

TEST(HopByHop, CopiesEndToEndHeadersOnly) {
  http::Headers in;
  in.add("Host", "example");
  in.add("Content-Length", "5");
  in.add("Transfer-Encoding", "chunked");
  in.add("Keep-Alive", "timeout=5");
  in.add("Connection", "X-Secret, close");
  in.add("connection", " x-other ");
  in.add("X-Secret", "1");
  in.add("X-Other", "2");
  in.add("Accept", "application/json");
  in.add("TE", "trailers");
  in.add("Trailer", "X-T");
  in.add("Upgrade", "h2c");
  in.add("Proxy-Authorization", "Basic x");
  in.add("X-Kept", "3");
  http::Headers out;
  copy_end_to_end(in, out);
  EXPECT_EQ(names(out), "Accept;X-Kept;");
  keep_end_to_end(in);
  EXPECT_EQ(names(in), "Accept;X-Kept;");
}

}  // namespace
}  // namespace mercato::gateway
