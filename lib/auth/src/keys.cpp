#include "mercato/auth/keys.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json/serialize.hpp>
#include <stdexcept>

#include "mercato/auth/base64url.hpp"
#include "mercato/auth/crypto.hpp"

namespace mercato::auth {
namespace {

constexpr std::size_t kRawKeyBytes = 32;
constexpr std::size_t kSignatureBytes = 64;

std::shared_ptr<evp_pkey_st> own(EVP_PKEY* key) { return {key, EVP_PKEY_free}; }

std::string raw_public_of(EVP_PKEY* key) {
  std::string raw(kRawKeyBytes, '\0');
  std::size_t size = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &size) != 1 ||
      size != kRawKeyBytes) {
    throw std::runtime_error("cannot read an Ed25519 public key");
  }
  return raw;
}

}  // namespace

Result<PublicKey> PublicKey::from_raw(std::string_view raw) {
  if (raw.size() != kRawKeyBytes) return Error::validation("x", "an Ed25519 public key is 32 bytes");
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                              reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  if (key == nullptr) return Error::validation("x", "not an Ed25519 public key");
  return PublicKey(own(key), std::string(raw));
}

Result<PublicKey> PublicKey::from_jwk(const boost::json::object& jwk) {
  auto text = [&](std::string_view name) -> std::string_view {
    auto* v = jwk.if_contains(name);
    return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
  };
  if (text("kty") != "OKP" || text("crv") != "Ed25519") {
    return Error::validation("kty", "not an Ed25519 key (kty OKP, crv Ed25519)");
  }
  if (auto alg = jwk.if_contains("alg"); alg != nullptr && text("alg") != "EdDSA") {
    return Error::validation("alg", "an Ed25519 key is for alg EdDSA only");
  }
  auto raw = base64url_decode(text("x"));
  if (!raw) return Error::validation("x", "x is not base64url");
  return from_raw(*raw);
}

bool PublicKey::verify(std::string_view data, std::string_view signature) const {
  if (signature.size() != kSignatureBytes) return false;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                          data.size()) == 1;
}

std::string PublicKey::thumbprint() const {
  // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
  std::string canonical = R"({"crv":"Ed25519","kty":"OKP","x":")" + base64url_encode(raw_) + "\"}";
  return base64url_encode(sha256(canonical));
}

boost::json::object PublicKey::to_jwk(std::string_view kid) const {
  return {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", base64url_encode(raw_)},
          {"kid", kid},   {"alg", "EdDSA"},   {"use", "sig"}};
}

PrivateKey PrivateKey::generate() {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &key) != 1) {
    throw std::runtime_error("cannot generate an Ed25519 key");
  }
  auto owned = own(key);
  auto pub = PublicKey::from_raw(raw_public_of(key));
  if (!pub) throw std::runtime_error(pub.error().message);
  return PrivateKey(owned, std::move(*pub));
}

Result<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                BIO_free);
  if (!bio) return Error::internal("cannot read the PEM text");
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) return Error::validation("", "not a PEM private key");
  auto owned = own(key);
  if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) return Error::validation("", "not an Ed25519 private key");
  MERCATO_ASSIGN_OR_RETURN(auto pub, PublicKey::from_raw(raw_public_of(key)));
  return PrivateKey(owned, std::move(pub));
}

std::string PrivateKey::to_pem() const {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    throw std::runtime_error("cannot write the key as PEM");
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string PrivateKey::sign(std::string_view data) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::string signature(kSignatureBytes, '\0');
  std::size_t size = signature.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      size != kSignatureBytes) {
    throw std::runtime_error("Ed25519 signing failed");
  }
  return signature;
}

}  // namespace mercato::auth
