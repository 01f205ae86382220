// mercato-monolith: the gateway and the six services in one process (service/monolith.hpp,
// docs/topologies.md). The modules are the services' own set-up functions; this list is their set-up
// order: the user service first (it issues the keys every other module verifies tokens with), the
// gateway last (it fronts the others).
#include "gateway/module.hpp"
#include "inventory/module.hpp"
#include "mercato/service/monolith.hpp"
#include "notification/module.hpp"
#include "order/module.hpp"
#include "payment/module.hpp"
#include "shipping/module.hpp"
#include "user/module.hpp"

int main(int argc, char** argv) {
  using namespace mercato;
  static constexpr service::Module kModules[] = {user::kModule,     inventory::kModule,    payment::kModule,
                                                 shipping::kModule, notification::kModule, order::kModule,
                                                 gateway::kModule};
  return service::run_monolith(argc, argv, kModules);
}
