#include "mercato/testing/otlp_receiver.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/unknown_field_set.h>

#include <condition_variable>
#include <future>
#include <mutex>

#include "mercato/http/io_pool.hpp"
#include "mercato/http/server.hpp"
#include "mercato/otlp/trace.pb.h"

namespace mercato::testing {
namespace {

namespace pb = mercato::otlp::v1;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

std::string to_hex(const std::string& bytes) {
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kHex[c >> 4U];
    out += kHex[c & 0xfU];
  }
  return out;
}

// Every field of `m`, at every depth, must be one the messages define, and every enum value one its
// enum defines (proto3 enums are open: an undefined number parses, and only this check refuses it).
std::string check_strict(const Message& m, const std::string& path) {
  const auto* reflection = m.GetReflection();
  if (!reflection->GetUnknownFields(m).empty()) {
    return path + ": " + std::to_string(reflection->GetUnknownFields(m).field_count()) + " field(s) that " +
           m.GetDescriptor()->full_name() + " does not define";
  }
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(m, &fields);
  for (const auto* f : fields) {
    std::string at = path + "." + f->name();
    if (f->type() == FieldDescriptor::TYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(m, f); ++i) {
          auto e = check_strict(reflection->GetRepeatedMessage(m, f, i), at + "[" + std::to_string(i) + "]");
          if (!e.empty()) return e;
        }
      } else {
        auto e = check_strict(reflection->GetMessage(m, f), at);
        if (!e.empty()) return e;
      }
    } else if (f->type() == FieldDescriptor::TYPE_ENUM) {
      auto check = [&](int value) -> std::string {
        if (f->enum_type()->FindValueByNumber(value) == nullptr)
          return at + ": " + std::to_string(value) + " is not a value of " + f->enum_type()->full_name();
        return {};
      };
      if (f->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(m, f); ++i) {
          if (auto e = check(reflection->GetRepeatedEnumValue(m, f, i)); !e.empty()) return e;
        }
      } else if (auto e = check(reflection->GetEnumValue(m, f)); !e.empty()) {
        return e;
      }
    }
  }
  return {};
}

std::string value_text(const pb::AnyValue& v) {
  switch (v.value_case()) {
    case pb::AnyValue::kStringValue:
      return v.string_value();
    case pb::AnyValue::kBoolValue:
      return v.bool_value() ? "true" : "false";
    case pb::AnyValue::kIntValue:
      return std::to_string(v.int_value());
    case pb::AnyValue::kDoubleValue:
      return std::to_string(v.double_value());
    default:
      return "<" + std::to_string(static_cast<int>(v.value_case())) + ">";
  }
}

}  // namespace

OtlpReceiver::Parsed OtlpReceiver::parse(const std::string& body) {
  Parsed out;
  pb::ExportTraceServiceRequest request;
  if (!request.ParseFromString(body)) {
    out.error = "not an ExportTraceServiceRequest";
    return out;
  }
  if (auto e = check_strict(request, "request"); !e.empty()) {
    out.error = e;
    return out;
  }
  for (const auto& rs : request.resource_spans()) {
    std::string service;
    for (const auto& kv : rs.resource().attributes()) {
      if (kv.key() == "service.name") service = kv.value().string_value();
    }
    if (service.empty()) {
      out.error = "a resource without service.name";
      return out;
    }
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) {
        if (s.trace_id().size() != 16 || s.span_id().size() != 8 ||
            !(s.parent_span_id().empty() || s.parent_span_id().size() == 8)) {
          out.error = "span '" + s.name() + "': ids of the wrong length";
          return out;
        }
        if (s.kind() == pb::Span::SPAN_KIND_UNSPECIFIED || s.name().empty() ||
            s.end_time_unix_nano() < s.start_time_unix_nano() || s.start_time_unix_nano() == 0) {
          out.error = "span '" + s.name() + "': no kind, no name, or times out of order";
          return out;
        }
        ReceivedSpan r;
        r.service = service;
        r.trace_id = to_hex(s.trace_id());
        r.span_id = to_hex(s.span_id());
        r.parent_span_id = to_hex(s.parent_span_id());
        r.name = s.name();
        r.kind = static_cast<int>(s.kind());
        r.start_unix_nano = s.start_time_unix_nano();
        r.end_unix_nano = s.end_time_unix_nano();
        for (const auto& kv : s.attributes()) r.attributes[kv.key()] = value_text(kv.value());
        r.status_code = static_cast<int>(s.status().code());
        r.flags = s.flags();
        out.spans.push_back(std::move(r));
      }
    }
  }
  return out;
}

struct OtlpReceiver::Impl {
  obs::Logger logger{"otlp-receiver", obs::LogLevel::kWarn};
  obs::Registry metrics;
  http::IoPool pool{1};
  std::unique_ptr<http::Server> server;

  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::vector<ReceivedSpan> spans;        // guarded by mutex
  int accepted = 0;                       // guarded by mutex
  int refused = 0;                        // guarded by mutex
  std::vector<std::string> rejections;    // guarded by mutex
  int refuse_left = 0;                    // guarded by mutex
  int refuse_status = 503;                // guarded by mutex
  std::optional<int> refuse_retry_after;  // guarded by mutex

  http::Response take(const http::Request& req) {
    std::unique_lock lock(mutex);
    if (refuse_left > 0) {
      --refuse_left;
      ++refused;
      http::Response res;
      res.status = refuse_status;
      if (refuse_retry_after) res.headers.set("Retry-After", std::to_string(*refuse_retry_after));
      changed.notify_all();
      return res;
    }
    lock.unlock();
    auto type = req.headers.get("Content-Type");
    Parsed parsed;
    if (!type || *type != "application/x-protobuf") {
      parsed.error =
          "Content-Type must be application/x-protobuf, not '" + std::string(type.value_or("")) + "'";
    } else {
      parsed = parse(req.body);
    }
    lock.lock();
    http::Response res;
    if (!parsed.error.empty()) {
      rejections.push_back(parsed.error);
      res.status = 400;
      res.body = parsed.error;
    } else {
      ++accepted;
      for (auto& s : parsed.spans) spans.push_back(std::move(s));
      res.status = 200;
      res.headers.set("Content-Type", "application/x-protobuf");
      res.body = pb::ExportTraceServiceResponse().SerializeAsString();
    }
    changed.notify_all();
    return res;
  }
};

OtlpReceiver::OtlpReceiver() : impl_(std::make_unique<Impl>()) {
  http::Router router;
  router.add(http::Method::kPost, "/v1/traces",
             [this](const http::Request& req) { return impl_->take(req); });
  http::ServerSettings settings;
  settings.max_body_bytes = std::uint64_t{64} * 1024 * 1024;
  impl_->server =
      std::make_unique<http::Server>(impl_->pool, settings, std::move(router), impl_->logger, impl_->metrics);
  impl_->server->start();
  impl_->pool.start();
}

OtlpReceiver::~OtlpReceiver() {
  std::promise<void> done;
  impl_->server->shutdown([&done] { done.set_value(); });
  done.get_future().wait_for(std::chrono::seconds(5));
  impl_->pool.stop();
  impl_->pool.join();
  impl_->server.reset();
}

std::uint16_t OtlpReceiver::port() const { return impl_->server->port(); }

std::string OtlpReceiver::endpoint() const { return "http://127.0.0.1:" + std::to_string(port()); }

void OtlpReceiver::answer_next(int count, int status, std::optional<int> retry_after_seconds) {
  std::lock_guard lock(impl_->mutex);
  impl_->refuse_left = count;
  impl_->refuse_status = status;
  impl_->refuse_retry_after = retry_after_seconds;
}

std::vector<ReceivedSpan> OtlpReceiver::spans() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->spans;
}

int OtlpReceiver::accepted() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->accepted;
}

int OtlpReceiver::refused() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->refused;
}

int OtlpReceiver::rejected() const {
  std::lock_guard lock(impl_->mutex);
  return static_cast<int>(impl_->rejections.size());
}

std::vector<std::string> OtlpReceiver::rejections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->rejections;
}

std::vector<ReceivedSpan> OtlpReceiver::wait_for(
    const std::function<bool(const std::vector<ReceivedSpan>&)>& done,
    std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  impl_->changed.wait_for(lock, timeout, [&] { return done(impl_->spans); });
  return impl_->spans;
}

}  // namespace mercato::testing
