// librdkafka's mock cluster: an in-process Kafka cluster that speaks the Kafka protocol over TCP on
// loopback. Tests and `mercato-kafka-mock` (the command that lets a developer run the whole system on
// "Kafka" locally) start one; it lives as long as the returned object.
//
// Thread-safety: start/destroy from one thread; the cluster serves clients on its own threads.
#pragma once

#include <memory>
#include <string>

#include "mercato/core/result.hpp"

namespace mercato::events {

class KafkaMockCluster {
 public:
  // A cluster of `brokers` brokers listening on 127.0.0.1 (ports chosen by librdkafka).
  static Result<std::unique_ptr<KafkaMockCluster>> start(int brokers = 1);
  ~KafkaMockCluster();
  KafkaMockCluster(const KafkaMockCluster&) = delete;
  KafkaMockCluster& operator=(const KafkaMockCluster&) = delete;

  // "127.0.0.1:PORT[,127.0.0.1:PORT...]"
  const std::string& bootstrap_servers() const noexcept { return bootstrap_; }

 private:
  struct Impl;
  explicit KafkaMockCluster(std::unique_ptr<Impl> impl, std::string bootstrap);
  std::unique_ptr<Impl> impl_;
  std::string bootstrap_;
};

}  // namespace mercato::events
