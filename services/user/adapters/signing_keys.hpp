// The user service's signing keys on disk: a directory of Ed25519 private keys, one PEM per key, named
// <created-unix-seconds>-<kid>.pem (kid = the key's RFC 7638 thumbprint), the directory 0700 and each
// file 0600.
//
// The newest key signs. Each older key was retired when the next one was created, and stays published
// (in the JWKS, with "exp") until its last token can have expired: retired + `grace` (the access-token
// lifetime plus the allowed clock skew); then it is no longer published, so verifiers drop it.
// Rotation is a new file: one is generated at start when there is none or when the newest is older
// than `rotate_after`, and a key given in configuration (`import_file`, e.g. from a secret store) is
// copied in as the newest when its kid is not there yet — change that file and restart to rotate.
//
// Thread-safety: a start-up function.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "app/auth_service.hpp"

namespace mercato::user {

struct KeyStoreSettings {
  std::filesystem::path dir;
  std::filesystem::path import_file;                     // empty: none
  std::chrono::seconds rotate_after{0};                  // 0: never rotate by age
  std::chrono::seconds grace{std::chrono::minutes(16)};  // how long a retired key stays published
};

// Throws std::runtime_error naming the file when the directory cannot be created, a file cannot be
// read or written, or a file is not an Ed25519 key (start-up only: the service cannot sign without).
SigningKeys load_signing_keys(const KeyStoreSettings& settings, SystemTime now);

}  // namespace mercato::user
