#include "api/hop_by_hop.hpp"

#include <algorithm>
#include <vector>

namespace mercato::gateway {
namespace {

// The header names a message's Connection headers list (every Connection header counts: a client may
// send several, or one with a list). Read once per message, not once per header.
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
  return tokens;
}

// Whether a header stays within one hop (RFC 9110 §7.6.1), given the names the Connection headers list.
bool hop_only(std::string_view name, const std::vector<std::string_view>& listed) {
  return http::is_hop_by_hop(name) || http::iequals(name, "Host") || http::iequals(name, "Content-Length") ||
         std::any_of(listed.begin(), listed.end(),
                     [&](std::string_view t) { return http::iequals(t, name); });
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
