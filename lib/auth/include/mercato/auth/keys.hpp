// Ed25519 signing keys (RFC 8032) and their public halves as JSON Web Keys (RFC 8037: kty "OKP",
// crv "Ed25519"). Why Ed25519: deterministic signatures (no per-signature nonce to get wrong, unlike
// ECDSA), small keys and signatures, one parameter set, and fast verification on every request.
//
//   auto key = auth::PrivateKey::generate();                    // or PrivateKey::from_pem(text)
//   std::string kid = key->public_key().thumbprint();           // RFC 7638, a stable key id
//   boost::json::object jwk = key->public_key().to_jwk(kid);
//
// Thread-safety: both classes are immutable values (OpenSSL key objects shared by reference count and
// only read after construction), safe to use from any thread.
#pragma once

#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"

// OpenSSL's key type, declared here so that its headers stay out of every includer.
struct evp_pkey_st;

namespace mercato::auth {

class PublicKey {
 public:
  // From the 32 raw bytes of an Ed25519 public key (validation error otherwise).
  static Result<PublicKey> from_raw(std::string_view raw);
  // From a JWK object: kty "OKP", crv "Ed25519", x = base64url of the raw key. Other key types are refused.
  static Result<PublicKey> from_jwk(const boost::json::object& jwk);

  // true when `signature` is a valid Ed25519 signature of `data` by this key.
  bool verify(std::string_view data, std::string_view signature) const;
  // The raw 32 bytes.
  const std::string& raw() const noexcept { return raw_; }
  // The RFC 7638 JWK thumbprint (SHA-256 of the canonical JWK members, base64url): a key id that anyone
  // holding the public key can recompute.
  std::string thumbprint() const;
  // {"kty":"OKP","crv":"Ed25519","x":...,"kid":kid,"alg":"EdDSA","use":"sig"}
  boost::json::object to_jwk(std::string_view kid) const;

 private:
  PublicKey(std::shared_ptr<evp_pkey_st> key, std::string raw) : key_(std::move(key)), raw_(std::move(raw)) {}
  std::shared_ptr<evp_pkey_st> key_;
  std::string raw_;
};

class PrivateKey {
 public:
  // A fresh key from the CSPRNG. Throws std::runtime_error if OpenSSL cannot make one (start-up only).
  static PrivateKey generate();
  // From a PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"); validation error when it is not an Ed25519 key.
  static Result<PrivateKey> from_pem(std::string_view pem);

  // PKCS#8 PEM, unencrypted: keep it in a file only its owner can read.
  std::string to_pem() const;
  // The 64-byte Ed25519 signature of `data`.
  std::string sign(std::string_view data) const;
  const PublicKey& public_key() const noexcept { return public_; }

 private:
  PrivateKey(std::shared_ptr<evp_pkey_st> key, PublicKey pub)
      : key_(std::move(key)), public_(std::move(pub)) {}
  std::shared_ptr<evp_pkey_st> key_;
  PublicKey public_;
};

}  // namespace mercato::auth
