#include "mercato/http/message.hpp"

#include <algorithm>
#include <array>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cctype>

#include "mercato/core/enum_names.hpp"

namespace mercato::http {

namespace {
constexpr auto kMethodNames = enum_names<Method>({{Method::kGet, "GET"},
                                                  {Method::kHead, "HEAD"},
                                                  {Method::kPost, "POST"},
                                                  {Method::kPut, "PUT"},
                                                  {Method::kPatch, "PATCH"},
                                                  {Method::kDelete, "DELETE"},
                                                  {Method::kOptions, "OPTIONS"},
                                                  {Method::kOther, "OTHER"}});
}  // namespace

std::string_view to_string(Method method) noexcept { return kMethodNames.name(method, "OTHER"); }

Method parse_method(std::string_view name) noexcept {
  return kMethodNames.parse(name).value_or(Method::kOther);
}

namespace {
// ASCII case folding; header names and tokens are ASCII, and std::tolower consults the locale.
constexpr unsigned char lower(unsigned char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<unsigned char>(c + ('a' - 'A')) : c;
}
}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(static_cast<unsigned char>(a[i])) != lower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const auto& slot : slots_) {
    if (slot.name_size != name.size()) continue;
    auto [k, v] = entry(slot);
    if (iequals(k, name)) return v;
  }
  return std::nullopt;
}

void Headers::set(std::string_view name, std::string_view value) {
  remove(name);
  add(name, value);
}

void Headers::add(std::string_view name, std::string_view value) {
  if (slots_.capacity() == 0) reserve(8, 256);  // grown once, not header by header
  slots_.push_back({static_cast<std::uint32_t>(text_.size()), static_cast<std::uint32_t>(name.size()),
                    static_cast<std::uint32_t>(value.size())});
  text_.append(name);
  text_.append(value);
}

void Headers::remove(std::string_view name) {
  // The removed text stays in the buffer until the Headers go: removals are rare and few.
  std::erase_if(slots_,
                [&](const Slot& s) { return s.name_size == name.size() && iequals(entry(s).first, name); });
}

void Headers::reserve(std::size_t n, std::size_t bytes) {
  slots_.reserve(n);
  if (bytes > 0) text_.reserve(bytes);
}

std::string_view Request::param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

namespace {

std::string decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      int hi = hex_value(text[i + 1]);
      int lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(c == '+' && plus_is_space ? ' ' : c);
  }
  return out;
}

}  // namespace

std::string percent_decode(std::string_view text) { return decode(text, true); }
std::string percent_decode_path(std::string_view text) { return decode(text, false); }

std::optional<std::string> Request::query_param(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    auto eq = pair.find('=');
    std::string key = percent_decode(pair.substr(0, eq));
    if (key == name)
      return eq == std::string_view::npos ? std::string{} : percent_decode(pair.substr(eq + 1));
  }
  return std::nullopt;
}

Response Response::json(int status, const boost::json::value& body) {
  return json_text(status, boost::json::serialize(body));
}

Response Response::json_text(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers.set("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

Response Response::error(const Error& error, std::string_view request_id) {
  return Response::error(error, request_id, boost::json::object{});
}

namespace {

Response error_response(const Error& error, std::string_view message, std::string_view request_id,
                        const boost::json::object& extra) {
  boost::json::object inner;
  inner["code"] = to_string(error.code);
  inner["message"] = message;
  if (!error.field.empty()) inner["field"] = error.field;
  inner["request_id"] = request_id;
  boost::json::object outer = extra;
  outer["error"] = std::move(inner);
  return Response::json(http_status(error.code), outer);
}

}  // namespace

Response Response::error(const Error& error, std::string_view request_id, const boost::json::object& extra) {
  if (http_status(error.code) < 500) return error_response(error, error.message, request_id, extra);
  // A producer that set `detail` made `message` fit for clients (core/error.hpp); otherwise the message
  // may hold addresses or driver text and stays in the log.
  auto res = error_response(error, client_message(error), request_id, extra);
  res.detail = error.detail.empty() ? error.message : error.message + ": " + error.detail;
  return res;
}

Response Response::error_verbatim(const Error& error, std::string_view request_id,
                                  const boost::json::object& extra) {
  return error_response(error, error.message, request_id, extra);
}

Response Response::no_content() {
  Response r;
  r.status = 204;
  return r;
}

bool is_hop_by_hop(std::string_view name) noexcept {
  static constexpr std::array<std::string_view, 9> kHopByHop = {"connection",
                                                                "keep-alive",
                                                                "proxy-connection",
                                                                "proxy-authenticate",
                                                                "proxy-authorization",
                                                                "te",
                                                                "trailer",
                                                                "transfer-encoding",
                                                                "upgrade"};
  return std::any_of(kHopByHop.begin(), kHopByHop.end(),
                     [&](std::string_view h) { return iequals(h, name); });
}

}  // namespace mercato::http
