// The JSON of etcd's HTTP API, read and written: private to lib/etcd, declared here for its tests.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"
#include "mercato/etcd/etcd.hpp"

namespace mercato::etcd::detail {

std::string base64_encode(std::string_view bytes);
// nullopt: not base64 (standard alphabet, padded).
std::optional<std::string> base64_decode(std::string_view text);
// A 64-bit field, written by etcd as a string; 0 when absent (etcd leaves zero values out).
std::int64_t int_field(const boost::json::object& o, std::string_view key);
Result<KeyValue> key_value(const boost::json::object& o);
std::int64_t header_revision(const boost::json::object& o);
// An error answer ({"error", "message", "code"}) as the canonical error its gRPC code stands for.
Error etcd_error(const boost::json::object& o);
// One line of a watch stream.
Result<WatchBatch> watch_batch(std::string_view line);

}  // namespace mercato::etcd::detail
