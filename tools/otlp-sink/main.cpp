// mercato-otlp-sink: the strict OTLP/HTTP trace receiver of the tests (testing::OtlpReceiver) as a
// process, for benchmarks: it listens on a free loopback port, writes the port to --port-file once it
// listens, takes POST /v1/traces until SIGTERM or SIGINT, then prints what it got as one JSON line
// ({"spans":N,"traces":N,"accepted":N,"rejected":N}) — so a benchmark's spans are also checked against the
// OTLP messages, not just discarded.
//
//   mercato-otlp-sink --port-file /tmp/sink.port > sink.json &
#include <csignal>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>

#include "mercato/testing/otlp_receiver.hpp"

int main(int argc, char** argv) {
  std::string port_file;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--port-file" && i + 1 < argc) {
      port_file = argv[++i];
    } else {
      std::fprintf(stderr, "usage: mercato-otlp-sink --port-file FILE\n");
      return 2;
    }
  }
  if (port_file.empty()) {
    std::fprintf(stderr, "usage: mercato-otlp-sink --port-file FILE\n");
    return 2;
  }
  // Blocked before the receiver's threads start, so that they inherit the mask and only sigwait sees them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  mercato::testing::OtlpReceiver receiver;
  {
    std::ofstream(port_file + ".tmp") << receiver.port() << "\n";
    std::rename((port_file + ".tmp").c_str(), port_file.c_str());  // whole, never half-written
  }
  int signal_number = 0;
  sigwait(&stop, &signal_number);
  auto spans = receiver.spans();
  std::set<std::string> traces;
  for (const auto& s : spans) traces.insert(s.trace_id);
  std::printf("{\"spans\":%zu,\"traces\":%zu,\"accepted\":%d,\"rejected\":%d}\n", spans.size(), traces.size(),
              receiver.accepted(), receiver.rejected());
  for (const auto& why : receiver.rejections()) std::fprintf(stderr, "rejected: %s\n", why.c_str());
  return receiver.rejected() == 0 ? 0 : 1;
}
