#include "app/policy_loader.hpp"

#include <algorithm>
#include <boost/json/value.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "mercato/config/config.hpp"
#include "mercato/config/yaml_json.hpp"

namespace mercato::gateway {

Result<Policy> parse_policy_yaml(std::string_view text, const RouteTable& routes, const std::string& label) {
  boost::json::value document;
  try {
    document = config::yaml_to_json(text, label);
  } catch (const config::ConfigError& e) {
    return Error::malformed(e.what());
  }
  return parse_policy(document, routes);
}

namespace {

Result<Policy> read_policy_file(const std::string& path, const RouteTable& routes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::malformed("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Error::malformed("cannot read " + path);
  return parse_policy_yaml(text.str(), routes, path);
}

}  // namespace

PolicyLoader::PolicyLoader(std::string path, const RouteTable& routes, http::Client& client,
                           obs::Registry& metrics, const obs::Logger& logger)
    : path_(std::move(path)), routes_(routes), client_(client), metrics_(metrics), logger_(logger) {
  loaded_ = stamp();
  auto first = load();
  if (!first) throw config::ConfigError("gateway policy " + path_ + ": " + first.error().message);
  holder_ = std::make_unique<PolicyHolder>(std::move(*first));
}

PolicyLoader::~PolicyLoader() { watcher_.reset(); }

void PolicyLoader::follow(const Membership& membership) {
  membership_.store(&membership);
  membership.apply(*holder_->current());
}

Result<std::shared_ptr<const Traffic>> PolicyLoader::load() const {
  MERCATO_ASSIGN_OR_RETURN(auto policy, path_.empty() ? parse_policy(boost::json::value(), routes_)
                                                      : read_policy_file(path_, routes_));
  return std::shared_ptr<const Traffic>(
      std::make_shared<Traffic>(std::move(policy), routes_, client_, metrics_, logger_));
}

Result<void> PolicyLoader::reload() {
  std::lock_guard lock(reload_mutex_);
  auto now_stamp = stamp();
  loaded_ = now_stamp;  // a refused file is not read again until it changes
  if (override_) {
    logger_.info("policy file changed; the live policy from etcd stays in force", {{"file", path_}});
    return {};
  }
  return swap_in(load(), path_);
}

Result<void> PolicyLoader::apply_live(const std::optional<std::string>& text) {
  std::lock_guard lock(reload_mutex_);
  if (!text) {
    // The live policy was removed: the file's is the policy again.
    override_.reset();
    loaded_ = stamp();
    return swap_in(load(), path_);
  }
  auto policy = parse_policy_yaml(*text, routes_, "etcd");
  if (!policy) {
    record("rejected");
    return std::move(policy).error();
  }
  auto result = swap_in(std::shared_ptr<const Traffic>(std::make_shared<Traffic>(std::move(*policy), routes_,
                                                                                 client_, metrics_, logger_)),
                        "etcd");
  if (result) override_ = *text;
  return result;
}

void PolicyLoader::record(const char* result) {
  metrics_
      .counter("mercato_gateway_policy_reloads_total", "Traffic policy reloads by result",
               {{"result", result}})
      .inc();
}

Result<void> PolicyLoader::swap_in(Result<std::shared_ptr<const Traffic>> next, const std::string& source) {
  if (!next) {
    record("rejected");
    logger_.error("traffic policy refused; the previous one stays in force",
                  {{"source", source}, {"error", next.error().message}});
    return std::move(next).error();
  }
  // The discovered instances before the swap (no request sees the configured addresses), and after it,
  // for an update that came meanwhile (Membership: both orders end with the latest instances).
  const auto* membership = membership_.load();
  if (membership != nullptr) membership->apply(**next);
  holder_->replace(std::move(*next));
  if (membership != nullptr) membership->apply(*holder_->current());
  record("applied");
  logger_.info("traffic policy applied", {{"source", source}});
  return {};
}

PolicyLoader::Stamp PolicyLoader::stamp() const {
  Stamp s;
  if (path_.empty()) return s;
  std::error_code ec;
  auto modified = std::filesystem::last_write_time(path_, ec);
  if (ec) return s;
  auto size = std::filesystem::file_size(path_, ec);
  if (ec) return s;
  return {modified, size, true};
}

void PolicyLoader::watch(std::chrono::milliseconds poll) {
  next_outliers_ = std::chrono::steady_clock::now();
  watcher_.emplace([this, poll] { return tick(poll); }, [this, poll] { check(poll); });
}

// As often as the policy in force lifts outlier ejections, and at least every `poll` (every second
// when there is no file to watch): the interval follows a policy that a reload may change.
std::chrono::milliseconds PolicyLoader::tick(std::chrono::milliseconds poll) const {
  using namespace std::chrono_literals;
  auto interval = holder_->current()->outlier_interval();
  auto every = poll.count() > 0 ? poll : 1s;
  if (interval.count() > 0) every = std::min(every, interval);
  return every;
}

void PolicyLoader::check(std::chrono::milliseconds poll) {
  auto interval = holder_->current()->outlier_interval();
  auto now = std::chrono::steady_clock::now();
  if (interval.count() > 0 && now >= next_outliers_) {
    holder_->current()->evaluate_outliers(now);
    next_outliers_ = now + interval;
  }
  if (poll.count() > 0 && !path_.empty()) {
    Stamp current = stamp();
    bool changed;
    {
      std::lock_guard reload_lock(reload_mutex_);
      changed = current != loaded_;
    }
    if (changed) (void)reload();
  }
}

}  // namespace mercato::gateway
