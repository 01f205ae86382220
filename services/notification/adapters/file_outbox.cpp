#include "adapters/file_outbox.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json/object.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "mercato/json/json.hpp"

namespace mercato::notification {
namespace {

// Closes the descriptor on every path out of append().
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const noexcept { return fd_; }
  // close() can report a delayed write error (e.g. on NFS); it is the last chance to see it.
  int release_and_close() noexcept {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Error io_error(std::string_view what, const std::string& path) {
  return Error::internal("outbox " + path + ": " + std::string(what) + ": " + std::strerror(errno));
}

}  // namespace

FileOutbox::FileOutbox(std::string path) : path_(std::move(path)) {
  if (path_.empty()) throw std::runtime_error("outbox file path must not be empty");
  std::error_code ec;
  auto parent = std::filesystem::path(path_).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) throw std::runtime_error("cannot create directory for outbox " + path_ + ": " + ec.message());
  if (auto r = ping(); !r) throw std::runtime_error(r.error().message);
}

std::string FileOutbox::format_line(const Email& email) {
  boost::json::object line{{"id", email.id},
                           {"to", email.to},
                           {"order_id", email.order_id},
                           {"kind", to_string(email.kind)},
                           {"subject", email.subject},
                           {"message", email.message},
                           {"created_at", format_rfc3339(email.created_at)}};
  // JSON escapes line breaks inside strings, so the record stays on one line.
  return json::serialize(line) + "\n";
}

Result<void> FileOutbox::send(const Email& email) { return append(format_line(email)); }

Result<void> FileOutbox::ping() { return append({}); }

Result<void> FileOutbox::append(std::string_view data) {
  std::lock_guard lock(mutex_);
  Fd fd(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) return io_error("cannot open for appending", path_);
  // Where this line starts: a write that fails halfway (disk full) is cut back off, so the next line
  // does not continue a fragment.
  off_t start = ::lseek(fd.get(), 0, SEEK_END);
  while (!data.empty()) {
    auto n = ::write(fd.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      auto error = io_error("write failed", path_);
      // If even the cut fails there is nothing more to try; the write error is the answer either way.
      [[maybe_unused]] int cut = start >= 0 ? ::ftruncate(fd.get(), start) : 0;
      return error;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  if (fd.release_and_close() != 0) return io_error("close failed", path_);
  return {};
}

}  // namespace mercato::notification
