// The shipping service's own settings: the `shipping` section of its configuration (config/shipping.yaml),
// read and checked once at start-up and handed to the ShippingService.
//
//   auto settings = shipping::read_settings(ctx.config().section("shipping"));  // throws ConfigError
//   shipping::ShippingService shipments(repository, std::move(settings));
//
// Thread-safety: plain values; read_settings runs at start-up.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <string_view>

#include "mercato/config/config.hpp"

namespace mercato::shipping {

struct ShippingSettings {
  // Countries the carrier does not deliver to (ISO 3166-1 alpha-2, upper case). The order saga's shipment
  // for an address there fails (shipment.failed); empty by default.
  std::set<std::string, std::less<>> unserved_countries;

  bool serves(std::string_view country) const { return !unserved_countries.contains(country); }
};

// Reads `unserved_countries` (a list; "DE,AT" from the environment). A code that is not an assigned
// ISO 3166-1 alpha-2 code in upper case ("de", "ZZ", "Germany") throws config::ConfigError naming the key:
// a typo must stop the service, not silently let the carrier "serve" a country it cannot.
ShippingSettings read_settings(const config::Section& section);

}  // namespace mercato::shipping
