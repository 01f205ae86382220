// mercato-otlp-sink: somewhere for a benchmark's spans to go, on a free loopback port. It writes the port
// to --port-file once it listens, takes POST /v1/traces until SIGTERM or SIGINT, then prints what it got
// as one JSON line.
//   --strict (default)  the tests' receiver (testing::OtlpReceiver): every request parsed against the
//                       OTLP messages, unknown fields and enum values refused; prints
//                       {"spans":N,"traces":N,"accepted":N,"rejected":N}. Its parse costs CPU on the same
//                       machine as the system measured, as a collector would.
//   --null              answers 200 without reading the body (a null endpoint): what the services pay
//                       for tracing, without a receiver's work beside it; prints {"requests":N,"bytes":N}.
//
//   mercato-otlp-sink --null --port-file /tmp/sink.port > sink.json &
#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <future>
#include <set>
#include <string>

#include "mercato/http/io_pool.hpp"
#include "mercato/http/server.hpp"
#include "mercato/testing/otlp_receiver.hpp"

namespace {

int usage() {
  std::fprintf(stderr, "usage: mercato-otlp-sink [--strict | --null] --port-file FILE\n");
  return 2;
}

void write_port(const std::string& file, std::uint16_t port) {
  std::ofstream(file + ".tmp") << port << "\n";
  std::rename((file + ".tmp").c_str(), file.c_str());  // whole, never half-written
}

int wait_for_stop(const sigset_t& stop) {
  int signal_number = 0;
  sigwait(&stop, &signal_number);
  return signal_number;
}

int run_null(const std::string& port_file, const sigset_t& stop) {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> bytes{0};
  mercato::obs::Logger logger("otlp-sink", mercato::obs::LogLevel::kWarn);
  mercato::obs::Registry metrics;
  mercato::http::IoPool pool(1);
  mercato::http::Router router;
  router.add(mercato::http::Method::kPost, "/v1/traces", [&](const mercato::http::Request& req) {
    requests.fetch_add(1, std::memory_order_relaxed);
    bytes.fetch_add(req.body.size(), std::memory_order_relaxed);
    mercato::http::Response res;
    res.headers.set("Content-Type", "application/x-protobuf");
    return res;  // 200, an empty ExportTraceServiceResponse
  });
  mercato::http::ServerSettings settings;
  settings.max_body_bytes = std::uint64_t{64} * 1024 * 1024;
  auto server = std::make_unique<mercato::http::Server>(pool, settings, std::move(router), logger, metrics);
  server->start();
  pool.start();
  write_port(port_file, server->port());
  wait_for_stop(stop);
  std::promise<void> done;
  server->shutdown([&done] { done.set_value(); });
  done.get_future().wait_for(std::chrono::seconds(5));
  pool.stop();
  pool.join();
  server.reset();
  std::printf("{\"requests\":%llu,\"bytes\":%llu}\n", static_cast<unsigned long long>(requests.load()),
              static_cast<unsigned long long>(bytes.load()));
  return 0;
}

int run_strict(const std::string& port_file, const sigset_t& stop) {
  mercato::testing::OtlpReceiver receiver;
  write_port(port_file, receiver.port());
  wait_for_stop(stop);
  auto spans = receiver.spans();
  std::set<std::string> traces;
  for (const auto& s : spans) traces.insert(s.trace_id);
  std::printf("{\"spans\":%zu,\"traces\":%zu,\"accepted\":%d,\"rejected\":%d}\n", spans.size(), traces.size(),
              receiver.accepted(), receiver.rejected());
  for (const auto& why : receiver.rejections()) std::fprintf(stderr, "rejected: %s\n", why.c_str());
  return receiver.rejected() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string port_file;
  bool null = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--port-file" && i + 1 < argc) {
      port_file = argv[++i];
    } else if (arg == "--null") {
      null = true;
    } else if (arg != "--strict") {
      return usage();
    }
  }
  if (port_file.empty()) return usage();
  // Blocked before any thread starts, so that every thread inherits the mask and only sigwait sees them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  return null ? run_null(port_file, stop) : run_strict(port_file, stop);
}
