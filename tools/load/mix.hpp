// The operations the load generator sends and their weighted mix.
//
//   auto mix = load::Mix::parse("register=5,read_product=40,place_order=30,read_order=20,cancel_order=5");
//   if (!mix) fail(mix.error().message);
//   load::Op op = mix->pick(rng() % mix->total());     // each op with probability weight / total
//
// Thread-safety: plain values.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"

namespace mercato::load {

enum class Op : std::uint8_t {
  kRegister,     // POST /api/users
  kReadProduct,  // GET /api/inventory/{id}
  kPlaceOrder,   // POST /api/orders
  kReadOrder,    // GET /api/orders/{id} of an order this run placed
  kCancelOrder,  // POST /api/orders/{id}/cancel of the newest order this run placed and did not cancel yet
};
inline constexpr std::size_t kOpCount = 5;
inline constexpr std::array<Op, kOpCount> kAllOps = {Op::kRegister, Op::kReadProduct, Op::kPlaceOrder,
                                                     Op::kReadOrder, Op::kCancelOrder};

// "register", "read_product", "place_order", "read_order", "cancel_order": the names in --mix, the
// summary and the JSON.
std::string_view op_name(Op op) noexcept;
constexpr std::size_t op_index(Op op) noexcept { return static_cast<std::size_t>(op); }

class Mix {
 public:
  // register 5, read_product 40, place_order 30, read_order 20, cancel_order 5.
  Mix();

  // "name=weight,..." — the operations named get those weights, the others 0. Weights are integers
  // 0..1000000; at least one must be positive; read_order or cancel_order need place_order > 0 (they act
  // on orders the run placed). Errors name the problem (ErrorCode::kValidationFailed, field "mix").
  static Result<Mix> parse(std::string_view spec);

  std::uint32_t weight(Op op) const noexcept { return weights_[op_index(op)]; }
  std::uint64_t total() const noexcept;
  // The operation for a uniformly drawn `r` in [0, total()): op k covers weights_[k] consecutive values.
  Op pick(std::uint64_t r) const noexcept;
  // "register=5,read_product=40,..." (every operation, in kAllOps order).
  std::string to_string() const;

 private:
  std::array<std::uint32_t, kOpCount> weights_{};
};

}  // namespace mercato::load
