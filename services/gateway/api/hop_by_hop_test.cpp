#include "api/hop_by_hop.hpp"

#include <gtest/gtest.h>

#include <chrono>
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
  in.add("Expect", "100-continue");
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

// A request may carry thousands of Connection tokens and thousands of headers; checking each header
// against each token would cost their product (seconds for a single request of a few hundred KiB).
TEST(HopByHop, ManyConnectionTokensCostLinearTime) {
  constexpr int kCount = 20000;
  http::Headers in;
  std::string tokens;
  for (int i = 0; i < kCount; ++i) {
    if (i > 0) tokens += ",";
    tokens += "Y-" + std::to_string(100000 + i);
  }
  in.add("Connection", tokens);
  for (int i = 0; i < kCount; ++i) in.add("X-" + std::to_string(100000 + i), "v");
  in.add("Y-100007", "listed");
  auto started = std::chrono::steady_clock::now();
  http::Headers out;
  copy_end_to_end(in, out);
  keep_end_to_end(in);
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(out.size(), static_cast<std::size_t>(kCount));
  EXPECT_FALSE(out.contains("Y-100007"));
  EXPECT_EQ(in.size(), static_cast<std::size_t>(kCount));
  // Sorted tokens take milliseconds; one scan of the tokens per header, 800 million comparisons.
  EXPECT_LT(took, std::chrono::milliseconds(500))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
}

}  // namespace
}  // namespace mercato::gateway
