#include "app/shipping_settings.hpp"

#include "domain/shipment.hpp"

namespace mercato::shipping {

ShippingSettings read_settings(const config::Section& section) {
  ShippingSettings settings;
  for (auto& code : section.string_list("unserved_countries")) {
    if (!is_iso_country(code)) {
      auto key =
          section.path().empty() ? std::string("unserved_countries") : section.path() + ".unserved_countries";
      throw config::ConfigError("config key '" + key + "': '" + code +
                                "' is not an assigned ISO 3166-1 alpha-2 country code in upper case");
    }
    settings.unserved_countries.insert(std::move(code));
  }
  return settings;
}

}  // namespace mercato::shipping
