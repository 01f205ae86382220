#include "mercato/config/yaml_json.hpp"

#include <yaml-cpp/yaml.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

#include "mercato/config/config.hpp"

namespace mercato::config {
namespace {

boost::json::value to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      boost::json::object o;
      for (const auto& kv : node) o[kv.first.as<std::string>()] = to_json(kv.second);
      return o;
    }
    case YAML::NodeType::Sequence: {
      boost::json::array a;
      for (const auto& item : node) a.push_back(to_json(item));
      return a;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() == "!") return boost::json::string(s);  // quoted: always a string
      if (s == "true") return true;
      if (s == "false") return false;
      if (s == "null" || s == "~") return nullptr;
      std::int64_t i = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
      if (ec == std::errc() && end == s.data() + s.size()) return i;
      double d = 0;
      auto [dend, dec] = std::from_chars(s.data(), s.data() + s.size(), d);
      if (dec == std::errc() && dend == s.data() + s.size()) return d;
      return boost::json::string(s);
    }
    default:
      return nullptr;
  }
}

}  // namespace

std::string yaml_file_to_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("cannot read YAML file " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError("cannot read YAML file " + path);
  return boost::json::serialize(yaml_to_json(text.str(), path));
}

boost::json::value yaml_to_json(std::string_view text, const std::string& label) {
  try {
    return to_json(YAML::Load(std::string(text)));
  } catch (const YAML::Exception& e) {
    throw ConfigError("cannot read YAML file " + label + ": " + e.what());
  }
}

}  // namespace mercato::config
