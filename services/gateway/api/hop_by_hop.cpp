#include "api/hop_by_hop.hpp"

#include <algorithm>
#include <vector>

namespace mercato::gateway {
namespace {

// Case-insensitive ordering for header names (ASCII, as in http::iequals).
bool iless(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; };
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [&](char x, char y) { return lower(x) < lower(y); });
}

// The header names a message's Connection headers list (every Connection header counts: a client may
// send several, or one with a list), sorted so that each header is looked up in logarithmic time: a
// linear scan per header costs tokens × headers, quadratic in the size of one request.
std::vector<std::string_view> connection_tokens(const http::Headers& headers) {
  std::vector<std::string_view> tokens;
  for (const auto& [header, value] : headers.entries()) {
    if (!http::iequals(header, "Connection")) continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      auto token = rest.substr(0, comma);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
      if (!token.empty()) tokens.push_back(token);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  std::sort(tokens.begin(), tokens.end(), iless);
  return tokens;
}

// Whether a header stays within one hop (RFC 9110 §7.6.1), given the sorted names the Connection headers
// list. Expect too: the gateway has the whole body before it calls the upstream, so there is nothing to
// wait for, and an upstream's 100 Continue must not reach a client that already got the gateway's.
bool hop_only(std::string_view name, const std::vector<std::string_view>& listed) {
  return http::is_hop_by_hop(name) || http::iequals(name, "Host") || http::iequals(name, "Content-Length") ||
         http::iequals(name, "Expect") || std::binary_search(listed.begin(), listed.end(), name, iless);
}

}  // namespace

void copy_end_to_end(const http::Headers& from, http::Headers& to) {
  auto listed = connection_tokens(from);
  for (const auto& [name, value] : from.entries()) {
    if (!hop_only(name, listed)) to.add(name, value);
  }
}

void keep_end_to_end(http::Headers& headers) {
  auto listed = connection_tokens(headers);  // views into `headers`' text, which removal leaves alone
  headers.remove_if([&](std::string_view name, std::string_view) { return hop_only(name, listed); });
}

}  // namespace mercato::gateway
