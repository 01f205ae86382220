// mercato-monolith: the gateway and the services in one process (service/monolith.hpp,
// docs/topologies.md). The modules are the services' own set-up functions; their list and set-up order
// are generated from the service descriptions (apps/monolith/CMakeLists.txt).
#include "mercato/service/monolith.hpp"
#include "monolith_modules.hpp"

int main(int argc, char** argv) {
  return mercato::service::run_monolith(argc, argv, mercato::monolith::kModules);
}
