#include "adapters/signing_keys.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace mercato::user {
namespace {

namespace fs = std::filesystem;

struct StoredKey {
  std::int64_t created = 0;  // unix seconds
  std::string kid;
  auth::PrivateKey key;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read the signing key " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Written to a temporary name with mode 0600 from the start, then renamed: a reader never sees half a
// key, and the secret is never readable by others, not even briefly.
void write_private(const fs::path& path, const std::string& text) {
  auto tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot write the signing key " + tmp.string());
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write the signing key " + path.string());
  }
}

std::int64_t seconds_of(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

StoredKey store(const fs::path& dir, auth::PrivateKey key, SystemTime now) {
  StoredKey k{seconds_of(now), key.public_key().thumbprint(), std::move(key)};
  write_private(dir / (std::to_string(k.created) + "-" + k.kid + ".pem"), k.key.to_pem());
  return k;
}

std::vector<StoredKey> read_dir(const fs::path& dir) {
  std::vector<StoredKey> keys;
  for (const auto& entry : fs::directory_iterator(dir)) {
    auto name = entry.path().filename().string();
    if (entry.path().extension() != ".pem") continue;
    auto dash = name.find('-');
    if (dash == std::string::npos || dash == 0) continue;
    std::int64_t created = 0;
    try {
      created = std::stoll(name.substr(0, dash));
    } catch (const std::exception&) {
      continue;  // not one of ours
    }
    auto key = auth::PrivateKey::from_pem(read_file(entry.path()));
    if (!key) throw std::runtime_error("signing key " + entry.path().string() + ": " + key.error().message);
    auto kid = key->public_key().thumbprint();
    keys.push_back({created, std::move(kid), std::move(*key)});
  }
  std::sort(keys.begin(), keys.end(), [](const StoredKey& a, const StoredKey& b) {
    return a.created != b.created ? a.created < b.created : a.kid < b.kid;
  });
  return keys;
}

}  // namespace

SigningKeys load_signing_keys(const KeyStoreSettings& settings, SystemTime now) {
  std::error_code ec;
  fs::create_directories(settings.dir, ec);
  if (ec)
    throw std::runtime_error("cannot create the key directory " + settings.dir.string() + ": " +
                             ec.message());
  fs::permissions(settings.dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  auto keys = read_dir(settings.dir);

  if (!settings.import_file.empty()) {
    auto imported = auth::PrivateKey::from_pem(read_file(settings.import_file));
    if (!imported) {
      throw std::runtime_error("signing key " + settings.import_file.string() + ": " +
                               imported.error().message);
    }
    auto kid = imported->public_key().thumbprint();
    bool known = std::any_of(keys.begin(), keys.end(), [&](const StoredKey& k) { return k.kid == kid; });
    if (!known) keys.push_back(store(settings.dir, std::move(*imported), now));
  } else {
    bool stale = !keys.empty() && settings.rotate_after.count() > 0 &&
                 seconds_of(now) - keys.back().created >= settings.rotate_after.count();
    if (keys.empty() || stale) keys.push_back(store(settings.dir, auth::PrivateKey::generate(), now));
  }

  const StoredKey& current = keys.back();
  SigningKeys out{auth::Signer(current.key, current.kid), {}};
  out.published.add(current.kid, current.key.public_key());
  for (std::size_t i = 0; i + 1 < keys.size(); ++i) {
    auto valid_until = from_unix_ms(keys[i + 1].created * 1000) + settings.grace;
    if (now < valid_until && keys[i].kid != current.kid) {
      out.published.add(keys[i].kid, keys[i].key.public_key(), valid_until);
    }
  }
  return out;
}

}  // namespace mercato::user
