#include "mercato/core/shared_library.hpp"

#include <dlfcn.h>

#include <stdexcept>
#include <utility>

namespace mercato {

SharedLibrary::SharedLibrary(std::string soname, std::string what, const std::string& package)
    : soname_(std::move(soname)), what_(std::move(what)) {
  handle_ = ::dlopen(soname_.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle_ == nullptr) {
    const char* why = ::dlerror();
    throw std::runtime_error("cannot use " + what_ + ": " + (why != nullptr ? why : soname_) +
                             " (Debian package " + package + ")");
  }
}

void* SharedLibrary::symbol(const char* name) const {
  void* found = ::dlsym(handle_, name);
  if (found == nullptr) throw std::runtime_error("cannot use " + what_ + ": " + soname_ + " has no " + name);
  return found;
}

}  // namespace mercato
