#include "domain/idempotency.hpp"

#include <gtest/gtest.h>

namespace mercato::payment {
namespace {

TEST(IdempotencyKeyRules, AcceptsPrintableAsciiUpTo255Bytes) {
  EXPECT_TRUE(validate_idempotency_key("a"));
  EXPECT_TRUE(validate_idempotency_key("3f2b8c1e-9a4d-4c7e-8f21-0b6d5e4a9c13"));
  EXPECT_TRUE(validate_idempotency_key("with space and ~!@#$%^&*()"));
  EXPECT_TRUE(validate_idempotency_key(std::string(255, 'k')));
}

TEST(IdempotencyKeyRules, RefusesEmptyLongAndNonPrintableNamingTheHeader) {
  for (const std::string& key :
       {std::string(), std::string(256, 'k'), std::string("tab\there"), std::string("nul\0x", 5),
        std::string("del\x7f"), std::string("caf\xc3\xa9"), std::string("nl\n")}) {
    auto r = validate_idempotency_key(key);
    ASSERT_FALSE(r) << key;
    EXPECT_EQ(r.error().code, ErrorCode::kValidationFailed);
    EXPECT_EQ(r.error().field, "Idempotency-Key");
  }
}

IdempotencyRecord record(KeyState state) {
  IdempotencyRecord r;
  r.key = "k";
  r.fingerprint = "fp";
  r.state = state;
  if (state == KeyState::kCompleted) r.response = StoredResponse{201, R"({"id":"p1"})"};
  return r;
}

TEST(IdempotencyResume, SameRequestCompletedReplaysTheStoredResponse) {
  auto r = resume(record(KeyState::kCompleted), "fp");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (StoredResponse{201, R"({"id":"p1"})"}));
}

TEST(IdempotencyResume, SameRequestInProgressIsConflict) {
  auto r = resume(record(KeyState::kInProgress), "fp");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_EQ(r.error().field, "Idempotency-Key");
}

TEST(IdempotencyResume, DifferentRequestIsUnprocessableEvenWhileInProgress) {
  for (auto state : {KeyState::kCompleted, KeyState::kInProgress}) {
    auto r = resume(record(state), "other");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kUnprocessable);
    EXPECT_EQ(r.error().field, "Idempotency-Key");
  }
}

}  // namespace
}  // namespace mercato::payment
