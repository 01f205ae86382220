#include "mix.hpp"

#include <algorithm>
#include <charconv>

#include "mercato/core/enum_names.hpp"

namespace mercato::load {

namespace {
// In kAllOps order: joined() lists them as the summary does.
constexpr auto kOpNames = enum_names<Op>({{Op::kRegister, "register"},
                                          {Op::kReadProduct, "read_product"},
                                          {Op::kPlaceOrder, "place_order"},
                                          {Op::kReadOrder, "read_order"},
                                          {Op::kCancelOrder, "cancel_order"}});
}  // namespace

std::string_view op_name(Op op) noexcept { return kOpNames.name(op, "?"); }

Mix::Mix() : weights_{5, 40, 30, 20, 5} {}

Result<Mix> Mix::parse(std::string_view spec) {
  Mix mix;
  mix.weights_.fill(0);
  std::array<bool, kOpCount> seen{};
  const std::string names = kOpNames.joined();
  if (spec.empty()) return Error::validation("mix", "empty; expected name=weight,... with names " + names);
  while (!spec.empty()) {
    auto comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    auto eq = item.find('=');
    if (eq == std::string_view::npos) {
      return Error::validation("mix", "'" + std::string(item) + "' is not name=weight");
    }
    std::string_view name = item.substr(0, eq);
    std::string_view number = item.substr(eq + 1);
    auto found = kOpNames.parse(name);
    if (!found) {
      return Error::validation("mix", "unknown operation '" + std::string(name) + "' (known: " + names + ")");
    }
    if (seen[op_index(*found)]) return Error::validation("mix", "'" + std::string(name) + "' given twice");
    seen[op_index(*found)] = true;
    std::uint32_t weight = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), weight);
    if (number.empty() || ec != std::errc() || end != number.data() + number.size() || weight > 1'000'000) {
      return Error::validation("mix", "the weight of '" + std::string(name) +
                                          "' must be an integer 0..1000000, not '" + std::string(number) +
                                          "'");
    }
    mix.weights_[op_index(*found)] = weight;
  }
  if (mix.total() == 0) return Error::validation("mix", "every weight is 0");
  if (mix.weight(Op::kPlaceOrder) == 0 &&
      (mix.weight(Op::kReadOrder) > 0 || mix.weight(Op::kCancelOrder) > 0)) {
    return Error::validation(
        "mix", "read_order and cancel_order act on the run's own orders: they need place_order > 0");
  }
  return mix;
}

std::uint64_t Mix::total() const noexcept {
  std::uint64_t sum = 0;
  for (auto w : weights_) sum += w;
  return sum;
}

Op Mix::pick(std::uint64_t r) const noexcept {
  for (Op op : kAllOps) {
    auto w = weights_[op_index(op)];
    if (r < w) return op;
    r -= w;
  }
  // r >= total(): not a valid draw; the last operation with a weight keeps the result defined.
  auto last =
      std::find_if(kAllOps.rbegin(), kAllOps.rend(), [&](Op op) { return weights_[op_index(op)] > 0; });
  return last != kAllOps.rend() ? *last : Op::kReadProduct;
}

std::string Mix::to_string() const {
  std::string out;
  for (Op op : kAllOps) {
    if (!out.empty()) out += ',';
    out += std::string(op_name(op)) + "=" + std::to_string(weights_[op_index(op)]);
  }
  return out;
}

}  // namespace mercato::load
