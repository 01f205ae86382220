#include "mercato/service/memory.hpp"

#include <malloc.h>

namespace mercato::service {

bool return_large_blocks_to_the_system() {
  // Setting either value by hand is what turns glibc's dynamic adjustment of both off (mallopt(3)).
  return mallopt(M_MMAP_THRESHOLD, static_cast<int>(kMapThreshold)) == 1 &&
         mallopt(M_TRIM_THRESHOLD, static_cast<int>(kTrimThreshold)) == 1;
}

}  // namespace mercato::service
