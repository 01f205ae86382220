// librdkafka, opened when a process first uses Kafka instead of linked into every binary. Linked, it
// was loaded by every service whatever broker its configuration names (`./mercato up` runs NATS), with
// its compression and SASL libraries: about 0.6 MB resident, plus 15 KiB of its static thread-local
// storage that every thread of the process zeroed at its start (docs/benchmarks.md, 18). The choice of
// broker is made at run time, so the library is too: a dlopen of its soname and one dlsym per function
// kafka_transport.cpp and kafka_mock.cpp call. The types and constants still come from its headers.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace mercato::events::librdkafka {

// Every function called, under its own name: a call site reads `rdk().rd_kafka_new(...)`.
#define MERCATO_RDKAFKA_FUNCTIONS(X)             \
  X(rd_kafka_AdminOptions_destroy)               \
  X(rd_kafka_AdminOptions_new)                   \
  X(rd_kafka_AdminOptions_set_operation_timeout) \
  X(rd_kafka_AdminOptions_set_request_timeout)   \
  X(rd_kafka_CreateTopics)                       \
  X(rd_kafka_CreateTopics_result_topics)         \
  X(rd_kafka_NewTopic_destroy)                   \
  X(rd_kafka_NewTopic_new)                       \
  X(rd_kafka_assign)                             \
  X(rd_kafka_assignment_lost)                    \
  X(rd_kafka_commit)                             \
  X(rd_kafka_conf_destroy)                       \
  X(rd_kafka_conf_new)                           \
  X(rd_kafka_conf_set)                           \
  X(rd_kafka_conf_set_dr_msg_cb)                 \
  X(rd_kafka_conf_set_opaque)                    \
  X(rd_kafka_conf_set_rebalance_cb)              \
  X(rd_kafka_consumer_close)                     \
  X(rd_kafka_consumer_poll)                      \
  X(rd_kafka_controllerid)                       \
  X(rd_kafka_destroy)                            \
  X(rd_kafka_err2name)                           \
  X(rd_kafka_err2str)                            \
  X(rd_kafka_error_destroy)                      \
  X(rd_kafka_error_string)                       \
  X(rd_kafka_event_CreateTopics_result)          \
  X(rd_kafka_event_destroy)                      \
  X(rd_kafka_event_error)                        \
  X(rd_kafka_event_error_string)                 \
  X(rd_kafka_fatal_error)                        \
  X(rd_kafka_flush)                              \
  X(rd_kafka_get_watermark_offsets)              \
  X(rd_kafka_header_get_last)                    \
  X(rd_kafka_incremental_assign)                 \
  X(rd_kafka_incremental_unassign)               \
  X(rd_kafka_message_destroy)                    \
  X(rd_kafka_message_errstr)                     \
  X(rd_kafka_message_headers)                    \
  X(rd_kafka_metadata)                           \
  X(rd_kafka_metadata_destroy)                   \
  X(rd_kafka_mock_cluster_bootstraps)            \
  X(rd_kafka_mock_cluster_destroy)               \
  X(rd_kafka_mock_cluster_new)                   \
  X(rd_kafka_new)                                \
  X(rd_kafka_pause_partitions)                   \
  X(rd_kafka_poll)                               \
  X(rd_kafka_poll_set_consumer)                  \
  X(rd_kafka_produceva)                          \
  X(rd_kafka_purge)                              \
  X(rd_kafka_queue_destroy)                      \
  X(rd_kafka_queue_get_consumer)                 \
  X(rd_kafka_queue_get_main)                     \
  X(rd_kafka_queue_new)                          \
  X(rd_kafka_queue_poll)                         \
  X(rd_kafka_queue_yield)                        \
  X(rd_kafka_rebalance_protocol)                 \
  X(rd_kafka_resume_partitions)                  \
  X(rd_kafka_seek_partitions)                    \
  X(rd_kafka_subscribe)                          \
  X(rd_kafka_topic_destroy)                      \
  X(rd_kafka_topic_name)                         \
  X(rd_kafka_topic_new)                          \
  X(rd_kafka_topic_partition_list_add)           \
  X(rd_kafka_topic_partition_list_destroy)       \
  X(rd_kafka_topic_partition_list_new)           \
  X(rd_kafka_topic_result_error)                 \
  X(rd_kafka_topic_result_error_string)          \
  X(rd_kafka_topic_result_name)

struct Api {
// A declaration needs the bare name.
#define MERCATO_RDKAFKA_MEMBER(name) decltype(&::name) name;  // NOLINT(bugprone-macro-parentheses)
  MERCATO_RDKAFKA_FUNCTIONS(MERCATO_RDKAFKA_MEMBER)
#undef MERCATO_RDKAFKA_MEMBER
};

// The soname opened (Debian's librdkafka1).
inline constexpr const char* kLibrary = "librdkafka.so.1";

// librdkafka's functions, the library opened on the first call. Throws std::runtime_error naming the
// library and the loader's reason when it cannot be opened or lacks a function. Thread-safe.
const Api& api();

}  // namespace mercato::events::librdkafka
