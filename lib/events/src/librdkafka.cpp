#include "librdkafka.hpp"

#include <dlfcn.h>

#include <stdexcept>
#include <string>

namespace mercato::events::librdkafka {
namespace {

template <typename F>
void bind(void* library, F& slot, const char* name) {
  void* symbol = ::dlsym(library, name);
  if (symbol == nullptr)
    throw std::runtime_error(std::string("cannot use Kafka: ") + kLibrary + " has no " + name);
  slot =
      reinterpret_cast<F>(symbol);  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast): dlsym's contract
}

Api load() {
  // RTLD_LOCAL: its symbols serve only these pointers. Never closed: its threads outlive any scope here.
  void* library = ::dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* why = ::dlerror();
    throw std::runtime_error(std::string("cannot use Kafka: ") + (why != nullptr ? why : kLibrary) +
                             " (Debian package librdkafka1)");
  }
  Api a{};
#define MERCATO_RDKAFKA_BIND(name) bind(library, a.name, #name);
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
