// KafkaMockCluster: librdkafka's mock cluster (rdkafka_mock.h) behind a small RAII type.
//
// The mock needs an rd_kafka_t for its bookkeeping; it is a plain producer that never produces and is
// only kept alive for the cluster. The mock listens on 127.0.0.1 with ports chosen by the OS and serves
// clients from its own thread, so it works for clients in this process and in others alike.
//
// What the mock (librdkafka 2.0.2) does and does not do, which the Kafka transport has to live with:
// produce (also idempotent), fetch, consumer groups with committed offsets, and topic auto-creation on a
// metadata request (4 partitions). It has no controller and so no CreateTopics: the transport detects
// that and falls back to auto-creation (kafka_transport.cpp). Data lives in memory only.
//
// Thread-safety: as the header says; the cluster itself is internally synchronised.
#include "mercato/events/kafka_mock.hpp"

#include <array>
#include <exception>
#include <string>

#include "librdkafka.hpp"

namespace mercato::events {
namespace {
// Opened at run time (librdkafka.hpp); start() has loaded it before anything else here runs.
const librdkafka::Api& rdk() { return librdkafka::api(); }
}  // namespace

struct KafkaMockCluster::Impl {
  rd_kafka_t* rk = nullptr;
  rd_kafka_mock_cluster_t* cluster = nullptr;

  ~Impl() {
    // The cluster refers to rk, so it goes first.
    if (cluster != nullptr) rdk().rd_kafka_mock_cluster_destroy(cluster);
    if (rk != nullptr) rdk().rd_kafka_destroy(rk);
  }
};

KafkaMockCluster::KafkaMockCluster(std::unique_ptr<Impl> impl, std::string bootstrap)
    : impl_(std::move(impl)), bootstrap_(std::move(bootstrap)) {}

KafkaMockCluster::~KafkaMockCluster() = default;

Result<std::unique_ptr<KafkaMockCluster>> KafkaMockCluster::start(int brokers) {
  if (brokers < 1 || brokers > 16) return Error::validation("brokers", "a mock cluster has 1 to 16 brokers");
  try {
    (void)librdkafka::api();
  } catch (const std::exception& e) {
    return Error::unavailable(e.what());
  }
  std::array<char, 512> errstr{};
  rd_kafka_conf_t* conf = rdk().rd_kafka_conf_new();
  // The bookkeeping handle has no bootstrap servers of its own; without this it warns about that.
  if (rdk().rd_kafka_conf_set(conf, "log_level", "3", errstr.data(), errstr.size()) != RD_KAFKA_CONF_OK) {
    rdk().rd_kafka_conf_destroy(conf);
    return Error::internal(std::string("cannot configure the Kafka mock cluster: ") + errstr.data());
  }
  auto impl = std::make_unique<Impl>();
  impl->rk = rdk().rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr.data(), errstr.size());
  if (impl->rk == nullptr) {
    rdk().rd_kafka_conf_destroy(conf);  // rd_kafka_new owns conf only when it succeeds
    return Error::unavailable(std::string("cannot create the Kafka mock cluster's client: ") + errstr.data());
  }
  impl->cluster = rdk().rd_kafka_mock_cluster_new(impl->rk, brokers);
  if (impl->cluster == nullptr) return Error::unavailable("librdkafka could not start a mock cluster");
  std::string bootstrap = rdk().rd_kafka_mock_cluster_bootstraps(impl->cluster);
  return std::unique_ptr<KafkaMockCluster>(new KafkaMockCluster(std::move(impl), std::move(bootstrap)));
}

}  // namespace mercato::events
