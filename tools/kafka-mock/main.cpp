// mercato-kafka-mock [--brokers N]: starts librdkafka's mock Kafka cluster on 127.0.0.1, prints its URL
// as one line ("kafka://127.0.0.1:PORT[,127.0.0.1:PORT...]") and serves until SIGTERM or SIGINT.
//
//   $ mercato-kafka-mock
//   kafka://127.0.0.1:40877
//   $ APP_EVENTS__URL=kafka://127.0.0.1:40877 ./mercato up      (in another terminal)
//
// Everything lives in memory: topics and committed offsets are gone when it exits. Topics are created
// with the mock's default of 4 partitions whatever events.partitions says (it has no CreateTopics).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "mercato/events/kafka_mock.hpp"

namespace {

int usage(const char* problem) {
  std::fprintf(stderr, "mercato-kafka-mock: %s\nusage: mercato-kafka-mock [--brokers N]  (N from 1 to 16)\n",
               problem);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 1;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string value;
    if (arg == "--brokers" && i + 1 < argc) {
      value = argv[++i];
    } else if (arg.starts_with("--brokers=")) {
      value = std::string(arg.substr(std::strlen("--brokers=")));
    } else if (arg == "--help" || arg == "-h") {
      std::printf("usage: mercato-kafka-mock [--brokers N]\n");
      return 0;
    } else {
      return usage(("unknown argument '" + std::string(arg) + "'").c_str());
    }
    char* end = nullptr;
    long n = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || n < 1 || n > 16)
      return usage("--brokers takes a number from 1 to 16");
    brokers = static_cast<int>(n);
  }

  // Blocked before the cluster starts its threads, so they inherit the mask and sigwait() below is the
  // only place these signals are taken.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto cluster = mercato::events::KafkaMockCluster::start(brokers);
  if (!cluster) {
    std::fprintf(stderr, "mercato-kafka-mock: %s\n", cluster.error().message.c_str());
    return 1;
  }
  std::printf("kafka://%s\n", (*cluster)->bootstrap_servers().c_str());
  std::fflush(stdout);

  int signal = 0;
  sigwait(&signals, &signal);
  std::fprintf(stderr, "mercato-kafka-mock: %s, stopping\n", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  return 0;
}
