// A Mailer that appends each email as one JSON line to a local file: the outbox a mail relay (or a
// person, or a test) reads. Line format:
//   {"id":"…","to":"<customer id>","order_id":"…","kind":"order_confirmed","subject":"…","message":"…",
//    "created_at":"2026-11-29T19:26:53.123Z"}
//
// The file is opened for each email (O_APPEND), so a log rotator may move it away at any time. A line is
// written whole or, when the write fails partway, cut back off; the caller then learns it was not sent.
//
// Thread-safety: thread-safe (appends are serialized by a mutex).
#pragma once

#include <mutex>
#include <string>

#include "app/mailer.hpp"

namespace mercato::notification {

class FileOutbox final : public Mailer {
 public:
  // Creates the parent directories and checks that the file can be opened for appending; throws
  // std::runtime_error naming the path when not (start-up only).
  explicit FileOutbox(std::string path);

  Result<void> send(const Email& email) override;
  Result<void> ping() override;

  const std::string& path() const noexcept { return path_; }

  // The JSON line for `email`, with its trailing '\n'.
  static std::string format_line(const Email& email);

 private:
  Result<void> append(std::string_view data);

  std::string path_;
  std::mutex mutex_;
};

}  // namespace mercato::notification
