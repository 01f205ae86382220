#include "app/membership.hpp"

namespace mercato::gateway {

void Membership::update(const std::string& service, std::vector<Member> members,
                        const std::shared_ptr<const Traffic>& traffic) {
  std::lock_guard lock(mutex_);
  auto& stored = services_[service];
  stored = std::move(members);
  if (traffic) apply_one(*traffic, service, stored);
}

void Membership::apply(const Traffic& traffic) const {
  std::lock_guard lock(mutex_);
  for (const auto& [service, members] : services_) apply_one(traffic, service, members);
}

void Membership::apply_one(const Traffic& traffic, const std::string& service,
                           const std::vector<Member>& members) {
  auto* s = traffic.service(service);
  if (s == nullptr) return;
  if (auto* all = s->subset(kDefaultSubset); all != nullptr) {
    std::vector<http::Endpoint> endpoints;
    endpoints.reserve(members.size());
    for (const auto& m : members) endpoints.push_back(m.endpoint);
    all->set_instances(std::move(endpoints));
  }
  for (const auto& [subset, version] : s->policy->subset_versions) {
    auto* upstream = s->subset(subset);
    if (upstream == nullptr) continue;
    std::vector<http::Endpoint> endpoints;
    for (const auto& m : members) {
      if (m.version == version) endpoints.push_back(m.endpoint);
    }
    upstream->set_instances(std::move(endpoints));
  }
}

}  // namespace mercato::gateway
