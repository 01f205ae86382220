// The instances of each service as service discovery last reported them, applied to the traffic policy
// in force: a service's default subset balances over all of its instances, a subset given by label
// ({name: canary, labels: {version: v2}}) over those of that version. Without discovery nothing is
// reported and the addresses of gateway.services and of the policy's endpoint lists stay.
//
//   Membership members;
//   agent.watch("order", [&](auto all) { members.update("order", to_members(all), holder.current()); });
//   // and after each policy reload: members.apply(*holder.current());
//
// Both orders of an update and a reload end with the new Traffic holding the latest instances: update()
// stores, then applies to the Traffic it is given; a reload applies what is stored to the new Traffic.
//
// Thread-safety: thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "app/traffic.hpp"
#include "mercato/http/client.hpp"

namespace mercato::gateway {

struct Member {
  http::Endpoint endpoint;
  std::string version;
};

class Membership {
 public:
  // `service` is a route table name (e.g. "order"); `traffic` may be null (no policy yet).
  void update(const std::string& service, std::vector<Member> members,
              const std::shared_ptr<const Traffic>& traffic);
  // Applies every service's stored instances to `traffic`.
  void apply(const Traffic& traffic) const;

 private:
  static void apply_one(const Traffic& traffic, const std::string& service,
                        const std::vector<Member>& members);

  mutable std::mutex mutex_;
  std::map<std::string, std::vector<Member>> services_;  // guarded by mutex_
};

}  // namespace mercato::gateway
