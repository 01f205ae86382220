// The names of an enum's values, written once as a constant table: the text a value is written as (JSON,
// SQL columns, configuration, logs, metrics) and the value such a text is read back as.
//
//   enum class Color { kRed, kGreen };
//   constexpr auto kColorNames =
//       mercato::enum_names<Color>({{Color::kRed, "red"}, {Color::kGreen, "green"}});
//   kColorNames.name(Color::kGreen);   // "green"
//   kColorNames.parse("red");          // Color::kRed
//   kColorNames.parse("blue");         // std::nullopt
//
// One table serves both directions, so a value added to the enum and the table is written and read alike;
// before it, each enum had a switch for one direction and a hand-kept list for the other.
// Lookups are linear: the tables are a handful of entries.
//
// Thread-safety: constant values.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace mercato {

// One row of an EnumNames table.
template <typename E>
struct EnumName {
  E value;
  std::string_view name;
};

template <typename E, std::size_t kSize>
class EnumNames {
 public:
  constexpr explicit EnumNames(const std::array<EnumName<E>, kSize>& entries) : entries_(entries) {}

  // The name of `value`; `fallback` for a value the table does not list (only a cast can make one).
  constexpr std::string_view name(E value, std::string_view fallback = {}) const noexcept {
    for (const auto& entry : entries_) {
      if (entry.value == value) return entry.name;
    }
    return fallback;
  }

  // The value named `text` exactly (case matters); nullopt for any other text.
  constexpr std::optional<E> parse(std::string_view text) const noexcept {
    for (const auto& entry : entries_) {
      if (entry.name == text) return entry.value;
    }
    return std::nullopt;
  }

  // Every name in table order, separated by ", ": the choices an error message lists.
  std::string joined() const {
    std::string out;
    for (const auto& entry : entries_) {
      if (!out.empty()) out += ", ";
      out += entry.name;
    }
    return out;
  }

  constexpr const std::array<EnumName<E>, kSize>& entries() const noexcept { return entries_; }

 private:
  std::array<EnumName<E>, kSize> entries_;
};

// Builds a table with its size deduced: enum_names<Color>({{Color::kRed, "red"}, ...}).
template <typename E, std::size_t kSize>
// NOLINTNEXTLINE(modernize-avoid-c-arrays): a braced list binds to an array reference, deducing its length
constexpr EnumNames<E, kSize> enum_names(const EnumName<E> (&entries)[kSize]) {
  std::array<EnumName<E>, kSize> rows{};
  for (std::size_t i = 0; i < kSize; ++i) rows[i] = entries[i];
  return EnumNames<E, kSize>(rows);
}

}  // namespace mercato
