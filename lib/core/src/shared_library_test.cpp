#include "mercato/core/shared_library.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace mercato {
namespace {

// libc is always there: its strlen, bound through the library, is the real one.
TEST(SharedLibrary, BindsAFunctionOfAnOpenedLibrary) {
  SharedLibrary libc("libc.so.6", "the C library", "libc6");
  decltype(&::strlen) length = nullptr;
  libc.bind(length, "strlen");
  ASSERT_NE(length, nullptr);
  EXPECT_EQ(length("mercato"), 7U);
}

TEST(SharedLibrary, SaysWhatCannotBeUsedAndWhichPackageHasIt) {
  try {
    SharedLibrary missing("libmercato-none.so.9", "Nothing", "no-such-package");
    FAIL() << "opened a library that does not exist";
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("cannot use Nothing: "), std::string::npos) << what;
    EXPECT_NE(what.find("libmercato-none.so.9"), std::string::npos) << what;
    EXPECT_NE(what.find("(Debian package no-such-package)"), std::string::npos) << what;
  }
  SharedLibrary libc("libc.so.6", "the C library", "libc6");
  decltype(&::strlen) length = nullptr;
  try {
    libc.bind(length, "mercato_no_such_function");
    FAIL() << "bound a function the library does not have";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "cannot use the C library: libc.so.6 has no mercato_no_such_function");
  }
}

}  // namespace
}  // namespace mercato
