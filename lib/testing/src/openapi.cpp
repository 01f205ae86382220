#include "mercato/testing/openapi.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

#include "mercato/catalog/catalog.hpp"
#include "mercato/config/config.hpp"
#include "mercato/config/yaml_json.hpp"
#include "mercato/core/time.hpp"

#ifndef MERCATO_SOURCE_DIR
#error "MERCATO_SOURCE_DIR must be defined by the build"
#endif

namespace mercato::testing {

std::string api_file(const std::string& service) {
  return std::string(MERCATO_SOURCE_DIR) + "/api/" + service + ".yaml";
}

namespace {

std::vector<std::string> split(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = 1;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    out.emplace_back(
        path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

bool template_matches(const std::string& tmpl, const std::string& path) {
  auto t = split(tmpl);
  auto p = split(path);
  if (t.size() != p.size()) return false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    bool param = t[i].size() > 2 && t[i].front() == '{' && t[i].back() == '}';
    if (param ? p[i].empty() : t[i] != p[i]) return false;
  }
  return true;
}

double number_of(const boost::json::value& v) { return v.to_number<double>(); }

}  // namespace

struct OpenApiContract::Impl {
  boost::json::value spec;

  const boost::json::value& resolve(const boost::json::value& schema,
                                    std::vector<std::string>& errors) const {
    const auto* ref = schema.is_object() ? schema.get_object().if_contains("$ref") : nullptr;
    if (ref == nullptr) return schema;
    std::string r(ref->as_string());
    if (r.rfind("#/", 0) != 0) {
      errors.push_back("unsupported $ref " + r);
      return schema;
    }
    const boost::json::value* node = &spec;
    for (const auto& part : split(r.substr(1))) {
      const auto* next = node->is_object() ? node->get_object().if_contains(part) : nullptr;
      if (next == nullptr) {
        errors.push_back("unresolvable $ref " + r);
        return schema;
      }
      node = next;
    }
    return resolve(*node, errors);
  }

  void validate(const boost::json::value& raw_schema, const boost::json::value& v, const std::string& at,
                std::vector<std::string>& errors) const {
    const auto& schema = resolve(raw_schema, errors);
    if (!schema.is_object()) return;
    const auto& s = schema.get_object();
    static const std::set<std::string> kKnown = {
        "type",     "nullable",      "enum",      "required", "properties",  "additionalProperties",
        "items",    "minLength",     "maxLength", "minimum",  "maximum",     "minItems",
        "maxItems", "minProperties", "pattern",   "format",   "description", "default",
        "example",  "title",         "readOnly",  "$ref"};
    for (const auto& kv : s) {
      if (kKnown.count(std::string(kv.key())) == 0) {
        errors.push_back(at + ": schema keyword '" + std::string(kv.key()) +
                         "' is not supported by the checker");
      }
    }
    if (v.is_null()) {
      const auto* nullable = s.if_contains("nullable");
      if (nullable == nullptr || !nullable->is_bool() || !nullable->get_bool())
        errors.push_back(at + ": null");
      return;
    }
    if (const auto* type = s.if_contains("type")) {
      std::string t(type->as_string());
      bool ok = (t == "object" && v.is_object()) || (t == "array" && v.is_array()) ||
                (t == "string" && v.is_string()) || (t == "integer" && (v.is_int64() || v.is_uint64())) ||
                (t == "number" && v.is_number()) || (t == "boolean" && v.is_bool());
      if (!ok) {
        errors.push_back(at + ": expected " + t + ", got " + boost::json::serialize(v));
        return;
      }
    }
    if (const auto* e = s.if_contains("enum")) {
      bool found = false;
      for (const auto& option : e->as_array()) found = found || option == v;
      if (!found)
        errors.push_back(at + ": " + boost::json::serialize(v) + " is not one of " +
                         boost::json::serialize(*e));
    }
    if (v.is_string()) {
      auto len = v.get_string().size();
      if (const auto* m = s.if_contains("minLength");
          m != nullptr && len < static_cast<std::size_t>(number_of(*m)))
        errors.push_back(at + ": shorter than minLength");
      if (const auto* m = s.if_contains("maxLength");
          m != nullptr && len > static_cast<std::size_t>(number_of(*m)))
        errors.push_back(at + ": longer than maxLength");
      if (const auto* p = s.if_contains("pattern")) {
        std::regex re(std::string(p->as_string()));
        if (!std::regex_search(std::string(v.get_string()), re))
          errors.push_back(at + ": does not match " + std::string(p->as_string()));
      }
      if (const auto* f = s.if_contains("format"); f != nullptr && f->as_string() == "date-time") {
        if (!parse_rfc3339(std::string(v.get_string()))) errors.push_back(at + ": not an RFC 3339 date-time");
      }
    }
    if (v.is_number()) {
      double n = number_of(v);
      if (const auto* m = s.if_contains("minimum"); m != nullptr && n < number_of(*m))
        errors.push_back(at + ": below minimum");
      if (const auto* m = s.if_contains("maximum"); m != nullptr && n > number_of(*m))
        errors.push_back(at + ": above maximum");
    }
    if (v.is_array()) {
      const auto& a = v.get_array();
      if (const auto* m = s.if_contains("minItems");
          m != nullptr && a.size() < static_cast<std::size_t>(number_of(*m)))
        errors.push_back(at + ": fewer than minItems");
      if (const auto* m = s.if_contains("maxItems");
          m != nullptr && a.size() > static_cast<std::size_t>(number_of(*m)))
        errors.push_back(at + ": more than maxItems");
      if (const auto* items = s.if_contains("items")) {
        for (std::size_t i = 0; i < a.size(); ++i)
          validate(*items, a[i], at + "[" + std::to_string(i) + "]", errors);
      }
    }
    if (v.is_object()) {
      const auto& o = v.get_object();
      const auto* props = s.if_contains("properties");
      if (const auto* req = s.if_contains("required")) {
        for (const auto& name : req->as_array()) {
          if (!o.contains(name.as_string()))
            errors.push_back(at + ": missing required '" + std::string(name.as_string()) + "'");
        }
      }
      if (const auto* m = s.if_contains("minProperties");
          m != nullptr && o.size() < static_cast<std::size_t>(number_of(*m)))
        errors.push_back(at + ": fewer than minProperties");
      const auto* additional = s.if_contains("additionalProperties");
      for (const auto& kv : o) {
        std::string key(kv.key());
        const boost::json::value* prop = props != nullptr ? props->as_object().if_contains(key) : nullptr;
        if (prop != nullptr) {
          validate(*prop, kv.value(), at + "." + key, errors);
        } else if (additional != nullptr && additional->is_bool() && !additional->get_bool()) {
          errors.push_back(at + ": property '" + key + "' is not in the contract");
        } else if (additional != nullptr && additional->is_object()) {
          validate(*additional, kv.value(), at + "." + key, errors);
        }
      }
    }
  }
};

OpenApiContract OpenApiContract::load(const std::string& path) {
  auto impl = std::make_shared<Impl>();
  try {
    impl->spec = boost::json::parse(config::yaml_file_to_json(path));
  } catch (const config::ConfigError& e) {
    throw std::runtime_error(std::string("cannot read OpenAPI file: ") + e.what());
  }
  if (!impl->spec.is_object() || !impl->spec.get_object().contains("openapi") ||
      !impl->spec.get_object().contains("paths")) {
    throw std::runtime_error(path + " is not an OpenAPI document");
  }
  OpenApiContract c;
  c.impl_ = std::move(impl);
  return c;
}

std::string OpenApiContract::check(const std::string& method, const std::string& target,
                                   const HttpResult& response) const {
  std::vector<std::string> errors;
  std::string path = target.substr(0, target.find('?'));
  const auto& paths = impl_->spec.at("paths").as_object();
  const boost::json::object* item = nullptr;
  // Literal templates win over parameterized ones, as in the router ("/orders/{id}" vs "/orders").
  for (int pass = 0; pass < 2 && item == nullptr; ++pass) {
    for (const auto& kv : paths) {
      std::string tmpl(kv.key());
      bool literal = tmpl.find('{') == std::string::npos;
      if ((pass == 0) != literal) continue;
      if (template_matches(tmpl, path)) {
        item = &kv.value().as_object();
        break;
      }
    }
  }
  if (item == nullptr) return "no path in the contract matches " + path;
  std::string lower;
  for (char c : method) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  const auto* op = item->if_contains(lower);
  if (op == nullptr) {
    // A 405 for an undocumented method is the documented behaviour of every service.
    if (response.status == 405) return "";
    return "the contract has no " + method + " " + path;
  }
  const auto& responses = op->at("responses").as_object();
  const auto* documented = responses.if_contains(std::to_string(response.status));
  if (documented == nullptr) documented = responses.if_contains("default");
  if (documented == nullptr)
    return method + " " + path + ": status " + std::to_string(response.status) + " is not documented";
  const auto& resolved = impl_->resolve(*documented, errors);
  const auto* content = resolved.is_object() ? resolved.get_object().if_contains("content") : nullptr;
  if (content == nullptr) {
    if (!response.body.empty()) errors.emplace_back("a body was sent where the contract documents none");
  } else {
    const auto* media = content->as_object().if_contains("application/json");
    if (media == nullptr) {
      errors.emplace_back("the contract documents no application/json body");
    } else {
      boost::system::error_code ec;
      auto body = boost::json::parse(response.body, ec);
      if (ec) {
        errors.push_back("the body is not JSON: " + response.body.substr(0, 200));
      } else if (const auto* schema = media->as_object().if_contains("schema")) {
        impl_->validate(*schema, body, "body", errors);
      }
    }
  }
  std::ostringstream out;
  for (const auto& e : errors) out << method << ' ' << path << " → " << response.status << ": " << e << '\n';
  return out.str();
}

std::string check_contract(const std::string& method, const std::string& target, const HttpResult& response) {
  static std::mutex mutex;
  static std::map<std::string, OpenApiContract, std::less<>> loaded;
  // Whose contract: the service of the exact path (/.well-known/jwks.json), else of the route, the first
  // segment (/users/42 as the service serves it, /api/users/42 without the /api the gateway strips),
  // as the service descriptions say (services/<name>/service.conf).
  const auto path = target.substr(0, target.find('?'));
  const catalog::Service* service = catalog::find_path(path);
  if (service == nullptr) {
    auto segments = split(path);
    if (!segments.empty()) service = catalog::find_route(segments[0]);
  }
  if (service == nullptr) return "no contract for " + target;
  const OpenApiContract* contract = nullptr;
  {
    std::lock_guard lock(mutex);
    auto it = loaded.find(service->name);
    if (it == loaded.end()) {
      std::string name(service->name);
      it = loaded.emplace(name, OpenApiContract::load(api_file(name))).first;
    }
    contract = &it->second;
  }
  return contract->check(method, target, response);
}

}  // namespace mercato::testing
