#include "mercato/config/yaml_json.hpp"

#include <yaml-cpp/yaml.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

#include "mercato/config/config.hpp"

namespace mercato::config {
namespace {

// Bounds on what one document may expand to. An alias is a reference to its anchor's node, and writing
// the document out expands it: an alias inside the node its anchor names ("a: &x {b: *x}") is a node
// that contains itself, which would be walked until the stack overflows (shown by
// fuzz/gateway_policy_fuzz.cpp), and aliases of aliases multiply (ten levels of ten aliases are ten
// billion values). Real documents have at most a few hundred values (api/inventory.yaml: about 500)
// and a dozen levels; the bound on values also keeps the cost of one reload small.
constexpr int kMaxDepth = 32;
constexpr std::size_t kMaxValues = 10'000;

std::string position(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return {};
  return " at line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1);
}

struct Walk {
  const std::string& label;
  std::size_t values = 0;
};

boost::json::value to_json(const YAML::Node& node, Walk& walk, int depth) {
  if (depth > kMaxDepth) {
    throw ConfigError(walk.label + position(node) + ": nested more than " + std::to_string(kMaxDepth) +
                      " levels deep (an alias that contains itself?)");
  }
  if (++walk.values > kMaxValues) {
    throw ConfigError(walk.label + ": more than " + std::to_string(kMaxValues) +
                      " values once its aliases are expanded");
  }
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      boost::json::object o;
      for (const auto& kv : node) {
        auto key = kv.first.as<std::string>();
        // yaml-cpp keeps both copies of a repeated key; taking one silently would hide a mistake.
        if (o.contains(key)) {
          throw ConfigError(walk.label + position(kv.first) + ": duplicate key '" + key.substr(0, 200) + "'");
        }
        o[key] = to_json(kv.second, walk, depth + 1);
      }
      return o;
    }
    case YAML::NodeType::Sequence: {
      boost::json::array a;
      for (const auto& item : node) a.push_back(to_json(item, walk, depth + 1));
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
      // from_chars also reads "inf" and "nan", which JSON cannot express: those stay text.
      double d = 0;
      auto [dend, dec] = std::from_chars(s.data(), s.data() + s.size(), d);
      if (dec == std::errc() && dend == s.data() + s.size() && std::isfinite(d)) return d;
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
    Walk walk{label};
    return to_json(YAML::Load(std::string(text)), walk, 0);
  } catch (const YAML::Exception& e) {
    throw ConfigError("cannot read YAML file " + label + ": " + e.what());
  }
}

}  // namespace mercato::config
