// Replays inputs through a fuzz target without libFuzzer: every regular file under the directories (or
// the files) named on the command line, once each. The normal GCC build links each harness with this
// main and CTest runs it on the committed corpus, so a past finding that comes back fails CI without
// clang. A crash is the failure signal, exactly as under libFuzzer.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

void run_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // A copy of exactly `size` bytes, so an overread would leave the buffer as it would under libFuzzer.
  std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(data.data(), data.size());
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t files = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path arg(argv[i]);
    if (std::filesystem::is_directory(arg)) {
      std::vector<std::filesystem::path> paths;
      for (const auto& entry : std::filesystem::recursive_directory_iterator(arg)) {
        if (entry.is_regular_file()) paths.push_back(entry.path());
      }
      std::sort(paths.begin(), paths.end());  // a stable order makes a failure easy to reproduce
      for (const auto& p : paths) {
        run_file(p);
        ++files;
      }
    } else {
      run_file(arg);
      ++files;
    }
  }
  if (files == 0) {
    std::fprintf(stderr, "replay: no input files (a corpus directory is empty or missing)\n");
    return 1;
  }
  std::printf("replay: %zu inputs, no crash\n", files);
  return 0;
}
