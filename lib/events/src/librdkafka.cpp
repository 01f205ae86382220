#include "librdkafka.hpp"

#include "mercato/core/shared_library.hpp"

namespace mercato::events::librdkafka {
namespace {

Api load() {
  SharedLibrary library(kLibrary, "Kafka", "librdkafka1");
  Api a{};
#define MERCATO_RDKAFKA_BIND(name) library.bind(a.name, #name);
  MERCATO_RDKAFKA_FUNCTIONS(MERCATO_RDKAFKA_BIND)
#undef MERCATO_RDKAFKA_BIND
  return a;
}

}  // namespace

const Api& api() {
  // A static's initialisation is thread-safe, and retried on the next call when load() throws.
  static const Api kLoaded = load();
  return kLoaded;
}

}  // namespace mercato::events::librdkafka
