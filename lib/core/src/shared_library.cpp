#include "mercato/core/shared_library.hpp"

#include <dlfcn.h>

#include <stdexcept>
#include <utility>

namespace mercato {

SharedLibrary::SharedLibrary(const char* soname, std::string what, const std::string& package)
    : soname_(soname), what_(std::move(what)) {
  handle_ = ::dlopen(soname_, RTLD_NOW | RTLD_LOCAL);
  if (handle_ == nullptr) {
    const char* why = ::dlerror();
    throw std::runtime_error("cannot use " + what_ + ": " + (why != nullptr ? std::string(why) : soname_) +
                             " (Debian package " + package + ")");
  }
}

void* SharedLibrary::symbol(const char* name) const {
  void* found = ::dlsym(handle_, name);
  if (found == nullptr)
    throw std::runtime_error("cannot use " + what_ + ": " + std::string(soname_) + " has no " + name);
  return found;
}

}  // namespace mercato
