// Live configuration of one service: the settings that may change while it runs (Context::add_live_setting),
// the values etcd holds for them (<prefix>/config/<service>/<key>), and what became of each change.
// Private to lib/service; the host feeds it from discovery::Agent::watch_config.
//
// A change is applied through its setting's own validation; a value that fails it, or a key that names
// no live setting, is refused: logged, counted (mercato_config_changes_total{result="refused"}), shown
// by GET /config/live, and the last good value stays. A deleted key goes back to the file's value.
//
// Thread-safety: update() runs on the discovery agent's thread; status_json() from any thread.
#pragma once

#include <boost/json/object.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "mercato/service/service.hpp"

namespace mercato::service {

class LiveConfig {
 public:
  LiveConfig(const obs::Logger& logger, obs::Registry& metrics) : logger_(logger), metrics_(metrics) {}

  void add(std::string key, LiveSetting apply);
  // Every key etcd holds now, after a change (added, changed or deleted keys are applied; the rest kept).
  void update(const std::map<std::string, std::string>& keys);
  // {"settings": [...], "keys": {"log.level": {"value": "debug", "status": "applied"}, ...}}
  boost::json::object status_json() const;

 private:
  struct KeyStatus {
    std::string value;
    bool applied = false;
    std::string error;
  };
  void apply(const std::string& key, const std::optional<std::string>& value);

  const obs::Logger& logger_;
  obs::Registry& metrics_;
  mutable std::mutex mutex_;
  std::map<std::string, LiveSetting> settings_;  // set before the watch starts, then read-only
  std::map<std::string, std::string> seen_;      // the agent's thread only
  std::map<std::string, KeyStatus> status_;      // guarded by mutex_
};

}  // namespace mercato::service
