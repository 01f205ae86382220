#include "mercato/observability/trace_context.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

namespace mercato::obs {
namespace {

// The example from the W3C specification.
constexpr std::string_view kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr std::string_view kSpan = "00f067aa0ba902b7";
const std::string kValid = "00-" + std::string(kTrace) + "-" + std::string(kSpan) + "-01";

std::string with_version(std::string_view version, std::string_view flags = "01") {
  return std::string(version) + "-" + std::string(kTrace) + "-" + std::string(kSpan) + "-" +
         std::string(flags);
}

TEST(TraceContext, ParsesVersion00) {
  auto ctx = TraceContext::parse(kValid);
  ASSERT_TRUE(ctx.has_value());
  EXPECT_EQ(ctx->trace_id, kTrace);
  EXPECT_EQ(ctx->span_id, kSpan);
  EXPECT_EQ(ctx->flags, 1);
  EXPECT_TRUE(ctx->sampled());
  EXPECT_EQ(ctx->to_traceparent(), kValid);
}

TEST(TraceContext, KeepsUnsampledAndOtherFlagsOfVersion00) {
  auto unsampled = TraceContext::parse(with_version("00", "00"));
  ASSERT_TRUE(unsampled.has_value());
  EXPECT_EQ(unsampled->flags, 0);
  EXPECT_FALSE(unsampled->sampled());
  auto other = TraceContext::parse(with_version("00", "03"));
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->flags, 3);
  EXPECT_EQ(other->to_traceparent(), with_version("00", "03"));
}

TEST(TraceContext, RejectsVersion00WithWrongLength) {
  EXPECT_FALSE(TraceContext::parse(kValid.substr(0, 54)));
  EXPECT_FALSE(TraceContext::parse(kValid + "-"));
  EXPECT_FALSE(TraceContext::parse(kValid + "-00"));
  EXPECT_FALSE(TraceContext::parse(kValid + "0"));
  EXPECT_FALSE(TraceContext::parse(""));
}

TEST(TraceContext, RejectsUppercaseHex) {
  EXPECT_FALSE(TraceContext::parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01"));
  EXPECT_FALSE(TraceContext::parse(with_version("00", "0A")));
  EXPECT_FALSE(TraceContext::parse(with_version("0A")));
}

TEST(TraceContext, RejectsAllZeroIds) {
  EXPECT_FALSE(TraceContext::parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
  EXPECT_FALSE(TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
}

TEST(TraceContext, RejectsVersionFf) { EXPECT_FALSE(TraceContext::parse(with_version("ff"))); }

TEST(TraceContext, RejectsNonHexCharacters) {
  EXPECT_FALSE(TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"));
  EXPECT_FALSE(TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01"));
  EXPECT_FALSE(TraceContext::parse(with_version("00", "0x")));
  EXPECT_FALSE(TraceContext::parse(with_version("0g")));
  EXPECT_FALSE(TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e473 -00f067aa0ba902b7-01"));
}

TEST(TraceContext, RejectsWrongDelimiters) {
  for (std::size_t pos : {2U, 35U, 52U}) {
    std::string h = kValid;
    h[pos] = '_';
    EXPECT_FALSE(TraceContext::parse(h)) << h;
  }
  // Fields of the right total length but shifted.
  EXPECT_FALSE(TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e47360-0f067aa0ba902b7-01"));
}

TEST(TraceContext, RejectsSurroundingWhitespace) {
  EXPECT_FALSE(TraceContext::parse(" " + kValid.substr(0, 54)));
  EXPECT_FALSE(TraceContext::parse(kValid + " "));
}

TEST(TraceContext, AcceptsFutureVersionOfExactLength) {
  auto ctx = TraceContext::parse(with_version("01"));
  ASSERT_TRUE(ctx.has_value());
  EXPECT_EQ(ctx->trace_id, kTrace);
  EXPECT_EQ(ctx->span_id, kSpan);
  // We only speak version 00.
  EXPECT_EQ(ctx->to_traceparent(), kValid);
}

TEST(TraceContext, AcceptsFutureVersionWithDashSeparatedSuffix) {
  auto ctx = TraceContext::parse(with_version("cc") + "-what-the-future-will-be-like");
  ASSERT_TRUE(ctx.has_value());
  EXPECT_EQ(ctx->trace_id, kTrace);
}

TEST(TraceContext, RejectsFutureVersionWithSuffixNotAfterDash) {
  EXPECT_FALSE(TraceContext::parse(with_version("cc") + "x-more"));
}

TEST(TraceContext, RejectsFutureVersionShorterThanVersion00) {
  EXPECT_FALSE(TraceContext::parse(with_version("cc").substr(0, 54)));
}

TEST(TraceContext, FutureVersionStillChecksIdsAndFlags) {
  EXPECT_FALSE(TraceContext::parse("01-00000000000000000000000000000000-00f067aa0ba902b7-01"));
  EXPECT_FALSE(TraceContext::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
  EXPECT_FALSE(TraceContext::parse(with_version("01", "0G")));
}

TEST(TraceContext, FutureVersionKeepsOnlySampledFlag) {
  auto ctx = TraceContext::parse(with_version("01", "ff"));
  ASSERT_TRUE(ctx.has_value());
  EXPECT_EQ(ctx->flags, 1);
  auto unsampled = TraceContext::parse(with_version("01", "fe"));
  ASSERT_TRUE(unsampled.has_value());
  EXPECT_EQ(unsampled->flags, 0);
}

TEST(TraceContext, NewRootHasValidRandomSampledIds) {
  static const std::regex kShape("00-[0-9a-f]{32}-[0-9a-f]{16}-01");
  std::set<std::string> traces;
  for (int i = 0; i < 100; ++i) {
    auto ctx = TraceContext::new_root();
    EXPECT_TRUE(ctx.sampled());
    std::string header = ctx.to_traceparent();
    EXPECT_TRUE(std::regex_match(header, kShape)) << header;
    EXPECT_EQ(TraceContext::parse(header), ctx);
    traces.insert(ctx.trace_id);
  }
  EXPECT_EQ(traces.size(), 100U);
}

TEST(TraceContext, ChildKeepsTraceAndFlagsWithNewSpan) {
  auto parent = *TraceContext::parse(with_version("00", "00"));
  auto child = parent.child();
  EXPECT_EQ(child.trace_id, parent.trace_id);
  EXPECT_EQ(child.flags, parent.flags);
  EXPECT_NE(child.span_id, parent.span_id);
  EXPECT_EQ(child.span_id.size(), 16U);
  EXPECT_TRUE(TraceContext::parse(child.to_traceparent()).has_value());
}

TEST(TraceContext, FormatsFlagsAsTwoLowercaseHexDigits) {
  TraceContext ctx{std::string(kTrace), std::string(kSpan), 0x0a};
  EXPECT_EQ(ctx.to_traceparent(), with_version("00", "0a"));
  ctx.flags = 0xb1;
  EXPECT_EQ(ctx.to_traceparent(), with_version("00", "b1"));
}

}  // namespace
}  // namespace mercato::obs
