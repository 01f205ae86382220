#include "mercato/observability/otlp.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>

#include "mercato/asio/names.hpp"
#include "mercato/otlp_lite/trace.pb.h"

namespace mercato::obs {

using namespace mercato::net;  // asio, beast, bhttp, tcp, kUseTuple

namespace {

namespace pb = mercato::otlp::lite::v1;  // the lite runtime's copy (CMakeLists.txt)

// 32 (or 16) lowercase hex digits → their 16 (or 8) bytes, as OTLP carries ids.
std::string hex_to_bytes(std::string_view hex) {
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1]));
  return out;
}

void set_value(pb::AnyValue& out, const AttributeValue& value) {
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          out.set_string_value(v);
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          out.set_int_value(v);
        } else if constexpr (std::is_same_v<T, double>) {
          out.set_double_value(v);
        } else {
          out.set_bool_value(v);
        }
      },
      value);
}

void add_attribute(google::protobuf::RepeatedPtrField<pb::KeyValue>& to, std::string_view key,
                   const AttributeValue& value) {
  auto* kv = to.Add();
  kv->set_key(std::string(key));
  set_value(*kv->mutable_value(), value);
}

class HttpSender : public OtlpSender {
 public:
  explicit HttpSender(OtlpEndpoint endpoint) : endpoint_(std::move(endpoint)) {}

  SendOutcome send(const std::string& body, std::chrono::milliseconds timeout) override {
    SendOutcome outcome;
    io_.restart();
    asio::co_spawn(io_, post(body, timeout, outcome), [&outcome](const std::exception_ptr& e) {
      if (e) outcome.error = "exporter failed with an exception";
    });
    io_.run();
    if (outcome.status == 0) stream_.reset();  // a failed connection is not reused
    return outcome;
  }

 private:
  asio::awaitable<void> post(const std::string& body, std::chrono::milliseconds timeout, SendOutcome& out) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool reused = stream_ != nullptr;
      if (!stream_) {
        stream_ = std::make_unique<beast::tcp_stream>(io_);
        stream_->expires_after(timeout);
        tcp::resolver resolver(io_);
        auto [rec, found] =
            co_await resolver.async_resolve(endpoint_.host, std::to_string(endpoint_.port), kUseTuple);
        if (rec) {
          out.error = "cannot resolve " + endpoint_.host + ": " + rec.message();
          co_return;
        }
        auto [cec, ep] = co_await stream_->async_connect(found, kUseTuple);
        if (cec) {
          out.error = "cannot connect to " + endpoint_.url + ": " + cec.message();
          co_return;
        }
      }
      bhttp::request<bhttp::string_body> req{bhttp::verb::post, endpoint_.target, 11};
      req.set(bhttp::field::host, endpoint_.host + ":" + std::to_string(endpoint_.port));
      req.set(bhttp::field::content_type, "application/x-protobuf");
      req.keep_alive(true);
      req.body() = body;
      req.prepare_payload();
      stream_->expires_after(timeout);
      auto [wec, wn] = co_await bhttp::async_write(*stream_, req, kUseTuple);
      beast::flat_buffer buffer;
      bhttp::response<bhttp::string_body> res;
      boost::system::error_code ec = wec;
      if (!ec) {
        auto [rec, rn] = co_await bhttp::async_read(*stream_, buffer, res, kUseTuple);
        ec = rec;
      }
      if (ec) {
        stream_.reset();
        // A kept connection the collector had closed meanwhile: one fresh try.
        if (reused) continue;
        out.error = "POST " + endpoint_.url + ": " + ec.message();
        co_return;
      }
      out.status = static_cast<int>(res.result_int());
      if (auto it = res.find(bhttp::field::retry_after); it != res.end()) {
        std::uint64_t seconds = 0;
        auto v = it->value();
        auto [ptr, pec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
        // The HTTP-date form is not worth a date parser here: the backoff applies instead.
        if (pec == std::errc() && ptr == v.data() + v.size()) out.retry_after = std::chrono::seconds(seconds);
      }
      if (!res.keep_alive()) stream_.reset();
      co_return;
    }
  }

  OtlpEndpoint endpoint_;
  asio::io_context io_{1};
  std::unique_ptr<beast::tcp_stream> stream_;
};

}  // namespace

std::string encode_export_request(const std::vector<SpanData>& spans, const Resource& resource) {
  pb::ExportTraceServiceRequest request;
  auto* rs = request.add_resource_spans();
  auto* res = rs->mutable_resource();
  add_attribute(*res->mutable_attributes(), "service.name", AttributeValue(resource.service_name));
  add_attribute(*res->mutable_attributes(), "telemetry.sdk.name", AttributeValue(std::string("mercato")));
  add_attribute(*res->mutable_attributes(), "telemetry.sdk.language", AttributeValue(std::string("cpp")));
  for (const auto& [k, v] : resource.attributes)
    add_attribute(*res->mutable_attributes(), k, AttributeValue(v));
  auto* scope_spans = rs->add_scope_spans();
  scope_spans->mutable_scope()->set_name("mercato");
  for (const auto& s : spans) {
    auto* out = scope_spans->add_spans();
    out->set_trace_id(hex_to_bytes(s.context.trace_id));
    out->set_span_id(hex_to_bytes(s.context.span_id));
    if (!s.parent_span_id.empty()) out->set_parent_span_id(hex_to_bytes(s.parent_span_id));
    out->set_flags(s.context.flags);
    out->set_name(s.name);
    out->set_kind(static_cast<pb::Span::SpanKind>(static_cast<int>(s.kind)));
    out->set_start_time_unix_nano(s.start_unix_nano);
    out->set_end_time_unix_nano(s.end_unix_nano);
    for (const auto& a : s.attributes) add_attribute(*out->mutable_attributes(), a.key, a.value);
    if (s.status != SpanStatus::kUnset) {
      auto* status = out->mutable_status();
      status->set_code(static_cast<pb::Status::StatusCode>(static_cast<int>(s.status)));
      status->set_message(s.status_message);
    }
  }
  return request.SerializeAsString();
}

std::unique_ptr<OtlpSender> make_http_sender(const OtlpEndpoint& endpoint) {
  return std::make_unique<HttpSender>(endpoint);
}

std::optional<std::chrono::milliseconds> retry_delay(const SendOutcome& outcome, int attempt,
                                                     const RetryPolicy& policy) {
  // OTLP/HTTP: these say "not now"; every other status says the request will never be taken.
  bool retryable = outcome.status == 0 || outcome.status == 429 || outcome.status == 502 ||
                   outcome.status == 503 || outcome.status == 504;
  if (!retryable) return std::nullopt;
  if (outcome.retry_after && outcome.status != 0) {
    return std::chrono::milliseconds(std::min(*outcome.retry_after, policy.max_retry_after));
  }
  auto delay = policy.initial_backoff;
  for (int i = 1; i < attempt && delay < policy.max_backoff; ++i) delay *= 2;
  return std::min(delay, policy.max_backoff);
}

BatchSpanProcessor::BatchSpanProcessor(const TracingSettings& settings, std::unique_ptr<OtlpSender> sender,
                                       Registry& metrics, const Logger* logger, RetryPolicy retry)
    : resource_{settings.service_name, settings.resource_attributes},
      schedule_delay_(settings.schedule_delay),
      max_queue_size_(settings.max_queue_size),
      max_batch_(settings.max_export_batch_size),
      export_timeout_(settings.export_timeout),
      retry_(retry),
      sender_(std::move(sender)),
      logger_(logger),
      dropped_(metrics.counter("mercato_tracing_spans_dropped_total",
                               "Spans dropped because the export queue was full")),
      exported_(metrics.counter("mercato_tracing_spans_exported_total", "Spans the collector accepted")),
      failed_(metrics.counter("mercato_tracing_spans_failed_total",
                              "Spans given up on: the collector refused them or did not answer in time")),
      retries_(metrics.counter("mercato_tracing_export_retries_total", "Export requests sent again")) {
  thread_ = std::thread([this] { run(); });
}

BatchSpanProcessor::~BatchSpanProcessor() { shutdown(); }

void BatchSpanProcessor::export_span(SpanData&& span) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= max_queue_size_) {
      dropped_.inc();
      return;
    }
    queue_.push_back(std::move(span));
    wake = queue_.size() == max_batch_;
  }
  if (wake) wake_.notify_one();
}

void BatchSpanProcessor::flush() {
  std::unique_lock lock(mutex_);
  if (stopping_) return;
  auto ticket = ++flush_requested_;
  wake_.notify_one();
  flushed_.wait_for(lock, export_timeout_, [&] { return flush_done_ >= ticket; });
}

void BatchSpanProcessor::shutdown() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void BatchSpanProcessor::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    auto until = std::chrono::steady_clock::now() + schedule_delay_;
    wake_.wait_until(lock, until, [&] {
      return stopping_ || queue_.size() >= max_batch_ || flush_requested_ > flush_done_;
    });
    bool draining = stopping_ || flush_requested_ > flush_done_;
    auto ticket = flush_requested_;
    // Everything queued when draining; otherwise what is there (a full batch, or the delay passed).
    do {
      std::vector<SpanData> batch;
      auto n = std::min(queue_.size(), max_batch_);
      batch.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (batch.empty()) break;
      lock.unlock();
      export_batch(batch);
      lock.lock();
    } while (draining || queue_.size() >= max_batch_);
    if (ticket > flush_done_) {
      flush_done_ = ticket;
      flushed_.notify_all();
    }
    if (stopping_) return;
  }
}

void BatchSpanProcessor::export_batch(const std::vector<SpanData>& batch) {
  auto body = encode_export_request(batch, resource_);
  auto deadline = std::chrono::steady_clock::now() + export_timeout_;
  for (int attempt = 1;; ++attempt) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto outcome = sender_->send(body, std::max(left, std::chrono::milliseconds(1)));
    if (outcome.status >= 200 && outcome.status < 300) {
      exported_.inc(batch.size());
      return;
    }
    auto delay = retry_delay(outcome, attempt, retry_);
    left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (!delay || *delay >= left) {
      failed_.inc(batch.size());
      if (logger_ != nullptr) {
        logger_->warn("trace export failed; spans dropped",
                      {{"status", outcome.status},
                       {"error", outcome.error},
                       {"spans", static_cast<std::uint64_t>(batch.size())},
                       {"attempts", attempt}});
      }
      return;
    }
    retries_.inc();
    // On the exporter's own thread, so nothing but later exports waits; bounded by the batch's deadline
    // (checked above), which also bounds how long shutdown can take.
    std::this_thread::sleep_for(*delay);
  }
}

}  // namespace mercato::obs
