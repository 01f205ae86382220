// YAML documents as JSON text: how a service serves its OpenAPI contract (api/<name>.yaml) at
// /openapi.json, and how the contract checker in lib/testing reads it.
//
//   std::string json = mercato::config::yaml_file_to_json("api/user.yaml");
//
// Plain scalars that read as integers, decimals, true/false or null become those JSON values; quoted
// scalars stay strings. Thread-safety: a pure function.
#pragma once

#include <string>

namespace mercato::config {

// Throws ConfigError (config.hpp) when the file cannot be read or parsed.
std::string yaml_file_to_json(const std::string& path);

}  // namespace mercato::config
