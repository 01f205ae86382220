// YAML documents as JSON: how a service serves its OpenAPI contract (api/<name>.yaml) at
// /openapi.json, how the contract checker in lib/testing reads it, and how the gateway reads its traffic
// policy.
//
//   std::string json = mercato::config::yaml_file_to_json("api/user.yaml");
//   boost::json::value policy = mercato::config::yaml_to_json(text, "config/gateway-policy.yaml");
//
// Plain scalars that read as integers, decimals, true/false or null become those JSON values; quoted
// scalars stay strings. Thread-safety: a pure function.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

namespace mercato::config {

// Throws ConfigError (config.hpp) when the file cannot be read or parsed.
std::string yaml_file_to_json(const std::string& path);

// YAML text (one document) as a JSON value; `label` names the text in messages, e.g. the file it came
// from. Throws ConfigError when the text is not YAML.
boost::json::value yaml_to_json(std::string_view text, const std::string& label);

}  // namespace mercato::config
