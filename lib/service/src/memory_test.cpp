#include "mercato/service/memory.hpp"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace mercato::service {
namespace {

// A block the size of an argon2id hash's memory, touched so that it is resident, then freed.
void use_and_free(std::size_t size) {
  void* block = std::malloc(size);
  ASSERT_NE(block, nullptr);
  std::memset(block, 1, size);
  std::free(block);
}

// What glibc keeps once the blocks are freed: the heap's size (arena) and the mapped blocks (hblkhd).
TEST(Memory, ALargeBlockGoesBackToTheSystemEveryTimeNotOnlyTheFirst) {
  ASSERT_TRUE(return_large_blocks_to_the_system());
  constexpr std::size_t kArgon2 = std::size_t{19} << 20;
  struct mallinfo2 before = mallinfo2();
  use_and_free(kArgon2);  // without the fixed threshold, this free raises it to 19 MiB ...
  use_and_free(kArgon2);  // ... and this block then comes from the heap, and stays there
  struct mallinfo2 after = mallinfo2();
  EXPECT_EQ(after.hblkhd, before.hblkhd) << "a mapped block was not unmapped";
  EXPECT_LT(after.arena, before.arena + kArgon2 / 2) << "the heap grew by the large block and kept it";
}

}  // namespace
}  // namespace mercato::service
