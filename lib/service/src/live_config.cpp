#include "live_config.hpp"

#include <boost/json/array.hpp>

namespace mercato::service {

void LiveConfig::add(std::string key, LiveSetting apply) {
  settings_.insert_or_assign(std::move(key), std::move(apply));
}

void LiveConfig::update(const std::map<std::string, std::string>& keys) {
  for (const auto& [key, value] : keys) {
    auto it = seen_.find(key);
    if (it != seen_.end() && it->second == value) continue;
    apply(key, value);
  }
  for (const auto& [key, _] : seen_) {
    if (!keys.contains(key)) apply(key, std::nullopt);
  }
  seen_ = keys;
}

void LiveConfig::apply(const std::string& key, const std::optional<std::string>& value) {
  auto setting = settings_.find(key);
  Result<void> result;
  if (setting == settings_.end()) {
    std::string names;
    for (const auto& [name, _] : settings_) names += (names.empty() ? "" : ", ") + name;
    result = Error::validation(key, "is not a live setting of this service (live: " + names + ")");
  } else {
    result = setting->second(value);
  }
  const char* outcome = result ? "applied" : "refused";
  metrics_
      .counter("mercato_config_changes_total", "Live configuration changes by result", {{"result", outcome}})
      .inc();
  if (result) {
    logger_.info(value ? "live setting applied" : "live setting removed; the file's value is back",
                 {{"key", key}, {"value", value.value_or("")}});
  } else {
    logger_.warn("live setting refused; the last good value stays",
                 {{"key", key}, {"value", value.value_or("")}, {"error", result.error().message}});
  }
  std::lock_guard lock(mutex_);
  if (!value && result) {
    status_.erase(key);
    return;
  }
  auto& s = status_[key];
  s.value = value.value_or("");
  s.applied = static_cast<bool>(result);
  s.error = result ? std::string() : result.error().message;
}

boost::json::object LiveConfig::status_json() const {
  boost::json::array names;
  for (const auto& [name, _] : settings_) names.emplace_back(name);
  boost::json::object keys;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, s] : status_) {
      boost::json::object o{{"value", s.value}, {"status", s.applied ? "applied" : "refused"}};
      if (!s.error.empty()) o["error"] = s.error;
      keys[key] = std::move(o);
    }
  }
  return {{"settings", std::move(names)}, {"keys", std::move(keys)}};
}

}  // namespace mercato::service
