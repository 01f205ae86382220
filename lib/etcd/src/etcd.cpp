#include "mercato/etcd/etcd.hpp"

#include <openssl/evp.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <charconv>

#include "codec.hpp"
#include "mercato/json/json.hpp"

namespace mercato::etcd {

namespace detail {

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  auto n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * (text.size() / 4), '\0');
  auto n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding's zero bytes in; drop them.
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=')
    padding = (text.size() >= 2 && text[text.size() - 2] == '=') ? 2 : 1;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

// etcd's JSON API writes 64-bit integers as strings ("revision":"42") and leaves out zero values.
std::int64_t int_field(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
  if (!v->is_string()) return 0;
  const auto& s = v->as_string();
  std::int64_t out = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() ? out : 0;
}

Result<KeyValue> key_value(const boost::json::object& o) {
  KeyValue kv;
  const auto* key = o.if_contains("key");
  if (key == nullptr || !key->is_string()) return Error::bad_gateway("etcd sent a key-value without a key");
  auto k = base64_decode(key->as_string());
  if (!k) return Error::bad_gateway("etcd sent a key that is not base64");
  kv.key = std::move(*k);
  if (const auto* value = o.if_contains("value"); value != nullptr && value->is_string()) {
    auto v = base64_decode(value->as_string());
    if (!v) return Error::bad_gateway("etcd sent a value that is not base64");
    kv.value = std::move(*v);
  }
  kv.create_revision = int_field(o, "create_revision");
  kv.mod_revision = int_field(o, "mod_revision");
  kv.version = int_field(o, "version");
  kv.lease = int_field(o, "lease");
  return kv;
}

std::int64_t header_revision(const boost::json::object& o) {
  const auto* header = o.if_contains("header");
  return header != nullptr && header->is_object() ? int_field(header->as_object(), "revision") : 0;
}

// An error answer: {"error": "...", "message": "...", "code": N} with a gRPC status code.
Error etcd_error(const boost::json::object& o) {
  std::string message = "etcd: ";
  if (const auto* m = o.if_contains("message"); m != nullptr && m->is_string()) {
    message += std::string(m->as_string());
  } else if (const auto* e = o.if_contains("error"); e != nullptr && e->is_string()) {
    message += std::string(e->as_string());
  } else {
    message += "error without a message";
  }
  switch (int_field(o, "code")) {
    case 5:  // NOT_FOUND
      return Error::not_found(std::move(message));
    case 9:   // FAILED_PRECONDITION
    case 11:  // OUT_OF_RANGE (a compacted revision)
      return Error::conflict(std::move(message));
    case 14:  // UNAVAILABLE
      return Error::unavailable(std::move(message));
    case 4:  // DEADLINE_EXCEEDED
      return Error::deadline_exceeded(std::move(message));
    default:
      return Error::bad_gateway(std::move(message));
  }
}

Result<WatchBatch> watch_batch(std::string_view line) {
  auto parsed = json::parse_value(line);
  if (!parsed || !parsed->is_object())
    return Error::bad_gateway("etcd sent a watch message that is not JSON");
  const auto& message = parsed->as_object();
  if (message.contains("error")) {
    const auto* error = message.if_contains("error");
    if (error->is_object()) return etcd_error(error->as_object());
    return etcd_error(message);
  }
  const auto* result = message.if_contains("result");
  if (result == nullptr || !result->is_object())
    return Error::bad_gateway("etcd sent a watch message without a result");
  const auto& r = result->as_object();
  if (const auto* canceled = r.if_contains("canceled");
      canceled != nullptr && canceled->is_bool() && canceled->as_bool()) {
    auto compact = int_field(r, "compact_revision");
    if (compact != 0) {
      return Error::conflict(
          "etcd: the watched revision was compacted (oldest kept: " + std::to_string(compact) + ")");
    }
    std::string reason = "etcd cancelled the watch";
    if (const auto* why = r.if_contains("cancel_reason"); why != nullptr && why->is_string())
      reason += ": " + std::string(why->as_string());
    return Error::unavailable(std::move(reason));
  }
  WatchBatch batch;
  batch.revision = header_revision(r);
  if (const auto* created = r.if_contains("created"); created != nullptr && created->is_bool())
    batch.created = created->as_bool();
  if (const auto* events = r.if_contains("events"); events != nullptr && events->is_array()) {
    for (const auto& e : events->as_array()) {
      if (!e.is_object()) return Error::bad_gateway("etcd sent a watch event that is not an object");
      const auto& event = e.as_object();
      WatchEvent out;
      if (const auto* type = event.if_contains("type");
          type != nullptr && type->is_string() && type->as_string() == "DELETE") {
        out.type = WatchEvent::Type::kDelete;
      }
      const auto* kv = event.if_contains("kv");
      if (kv == nullptr || !kv->is_object()) return Error::bad_gateway("etcd sent a watch event without kv");
      MERCATO_ASSIGN_OR_RETURN(out.kv, key_value(kv->as_object()));
      batch.events.push_back(std::move(out));
    }
  }
  return batch;
}

}  // namespace detail

using detail::base64_encode;
using detail::int_field;

Result<std::vector<http::Endpoint>> parse_endpoints(std::string_view text) {
  std::vector<http::Endpoint> out;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.starts_with("http://")) item.remove_prefix(7);
    while (!item.empty() && item.back() == '/') item.remove_suffix(1);
    if (item.empty()) continue;
    auto endpoint = http::Endpoint::parse(item);
    if (!endpoint) return Error::validation("etcd", endpoint.error().message);
    out.push_back(std::move(*endpoint));
  }
  if (out.empty()) return Error::validation("etcd", "no endpoint given");
  return out;
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  // The smallest key greater than every key with this prefix: increment the last byte that can be.
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

Client::Client(http::Client& http, Settings settings) : http_(http), settings_(std::move(settings)) {}

boost::asio::awaitable<Result<std::string>> Client::call(std::string_view path, std::string body) {
  Error last = Error::unavailable("etcd: no endpoint configured");
  for (const auto& endpoint : settings_.endpoints) {
    http::ClientRequest request{.method = http::Method::kPost, .target = std::string(path)};
    request.headers.set("Content-Type", "application/json");
    request.body = body;
    auto response = co_await http_.send(endpoint, std::move(request), {.timeout = settings_.timeout});
    if (!response) {
      last = response.error();
      last.message = "etcd at " + endpoint.to_string() + ": " + last.message;
      continue;  // not reached: the next endpoint may be
    }
    if (response->status == 200) co_return std::move(response->body);
    auto parsed = json::parse_value(response->body);
    if (parsed && parsed->is_object()) co_return detail::etcd_error(parsed->as_object());
    co_return Error::bad_gateway("etcd answered " + std::to_string(response->status));
  }
  co_return last;
}

namespace {

Result<boost::json::object> object_of(Result<std::string> body) {
  if (!body) return std::move(body).error();
  auto parsed = json::parse_value(*body);
  if (!parsed || !parsed->is_object())
    return Error::bad_gateway("etcd sent an answer that is not a JSON object");
  return std::move(parsed->as_object());
}

boost::json::object range_request(std::string_view key, const std::string* range_end,
                                  const RangeOptions& options) {
  boost::json::object request{{"key", base64_encode(key)}};
  if (range_end != nullptr) request["range_end"] = base64_encode(*range_end);
  if (options.revision != 0) request["revision"] = std::to_string(options.revision);
  if (options.limit != 0) request["limit"] = std::to_string(options.limit);
  return request;
}

Result<Range> range_of(Result<boost::json::object> answer) {
  if (!answer) return std::move(answer).error();
  Range out;
  out.revision = detail::header_revision(*answer);
  if (const auto* kvs = answer->if_contains("kvs"); kvs != nullptr && kvs->is_array()) {
    for (const auto& item : kvs->as_array()) {
      if (!item.is_object()) return Error::bad_gateway("etcd sent a key-value that is not an object");
      MERCATO_ASSIGN_OR_RETURN(auto kv, detail::key_value(item.as_object()));
      out.kvs.push_back(std::move(kv));
    }
  }
  return out;
}

}  // namespace

boost::asio::awaitable<Result<Range>> Client::get(std::string key, RangeOptions options) {
  auto body = json::serialize(range_request(key, nullptr, options));
  co_return range_of(object_of(co_await call("/v3/kv/range", std::move(body))));
}

boost::asio::awaitable<Result<Range>> Client::get_prefix(std::string prefix, RangeOptions options) {
  auto end = prefix_end(prefix);
  auto body = json::serialize(range_request(prefix, &end, options));
  co_return range_of(object_of(co_await call("/v3/kv/range", std::move(body))));
}

boost::asio::awaitable<Result<std::int64_t>> Client::put(std::string key, std::string value,
                                                         std::int64_t lease) {
  boost::json::object request{{"key", base64_encode(key)}, {"value", base64_encode(value)}};
  if (lease != 0) request["lease"] = std::to_string(lease);
  auto answer = object_of(co_await call("/v3/kv/put", json::serialize(request)));
  if (!answer) co_return std::move(answer).error();
  co_return detail::header_revision(*answer);
}

boost::asio::awaitable<Result<std::int64_t>> Client::erase(std::string key) {
  boost::json::object request{{"key", base64_encode(key)}};
  auto answer = object_of(co_await call("/v3/kv/deleterange", json::serialize(request)));
  if (!answer) co_return std::move(answer).error();
  co_return int_field(*answer, "deleted");
}

boost::asio::awaitable<Result<std::int64_t>> Client::erase_prefix(std::string prefix) {
  boost::json::object request{{"key", base64_encode(prefix)},
                              {"range_end", base64_encode(prefix_end(prefix))}};
  auto answer = object_of(co_await call("/v3/kv/deleterange", json::serialize(request)));
  if (!answer) co_return std::move(answer).error();
  co_return int_field(*answer, "deleted");
}

boost::asio::awaitable<Result<Lease>> Client::grant(std::chrono::seconds ttl) {
  boost::json::object request{{"TTL", std::to_string(ttl.count())}};
  auto answer = object_of(co_await call("/v3/lease/grant", json::serialize(request)));
  if (!answer) co_return std::move(answer).error();
  Lease lease{int_field(*answer, "ID"), std::chrono::seconds(int_field(*answer, "TTL"))};
  if (lease.id == 0) co_return Error::bad_gateway("etcd granted no lease");
  co_return lease;
}

boost::asio::awaitable<Result<Lease>> Client::keep_alive(std::int64_t lease) {
  boost::json::object request{{"ID", std::to_string(lease)}};
  // A stream in etcd's API; one request in the body gets one answer, wrapped in "result".
  auto answer = object_of(co_await call("/v3/lease/keepalive", json::serialize(request)));
  if (!answer) co_return std::move(answer).error();
  const auto* result = answer->if_contains("result");
  if (result == nullptr || !result->is_object()) {
    if (answer->contains("error")) co_return detail::etcd_error(*answer);
    co_return Error::bad_gateway("etcd sent a keep-alive answer without a result");
  }
  auto ttl = int_field(result->as_object(), "TTL");
  // etcd answers an expired or unknown lease with TTL 0 (left out) rather than an error.
  if (ttl <= 0) co_return Error::not_found("etcd: lease " + std::to_string(lease) + " has expired");
  co_return Lease{lease, std::chrono::seconds(ttl)};
}

boost::asio::awaitable<Result<void>> Client::revoke(std::int64_t lease) {
  boost::json::object request{{"ID", std::to_string(lease)}};
  auto answer = object_of(co_await call("/v3/lease/revoke", json::serialize(request)));
  if (!answer) co_return std::move(answer).error();
  co_return Result<void>{};
}

}  // namespace mercato::etcd
