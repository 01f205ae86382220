#include "mercato/observability/exposition.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

namespace mercato::obs {

std::string_view Sample::label(std::string_view key) const noexcept {
  for (const auto& [k, v] : labels) {
    if (k == key) return v;
  }
  return {};
}

namespace {

bool name_char(char c, bool first) noexcept {
  bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
  return alpha || (!first && c >= '0' && c <= '9');
}

std::optional<double> parse_value(std::string_view text) {
  if (text == "+Inf" || text == "Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

// Parses one sample line; nullopt when it is not one.
std::optional<Sample> parse_line(std::string_view line) {
  Sample s;
  std::size_t i = 0;
  while (i < line.size() && name_char(line[i], i == 0)) ++i;
  if (i == 0) return std::nullopt;
  s.name = std::string(line.substr(0, i));
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (true) {
      while (i < line.size() && line[i] == ' ') ++i;
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      std::size_t start = i;
      while (i < line.size() && name_char(line[i], i == start)) ++i;
      if (i == start || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') return std::nullopt;
      std::string key(line.substr(start, i - start));
      i += 2;
      std::string value;
      bool closed = false;
      while (i < line.size()) {
        char c = line[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (i >= line.size()) return std::nullopt;
          char e = line[i++];
          if (e == 'n') {
            value += '\n';
          } else if (e == '\\' || e == '"') {
            value += e;
          } else {
            return std::nullopt;
          }
        } else {
          value += c;
        }
      }
      if (!closed) return std::nullopt;
      s.labels.emplace_back(std::move(key), std::move(value));
      while (i < line.size() && line[i] == ' ') ++i;
      if (i < line.size() && line[i] == ',') {
        ++i;
      } else if (i >= line.size() || line[i] != '}') {
        return std::nullopt;
      }
    }
  }
  if (i >= line.size() || (line[i] != ' ' && line[i] != '\t')) return std::nullopt;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  auto rest = line.substr(i);
  auto space = rest.find_first_of(" \t");
  auto value = parse_value(rest.substr(0, space));
  if (!value) return std::nullopt;
  if (space != std::string_view::npos) {
    // A timestamp (integer milliseconds) may follow; nothing else may.
    auto ts = rest.substr(space);
    ts.remove_prefix(std::min(ts.find_first_not_of(" \t"), ts.size()));
    std::int64_t ms = 0;
    auto [end, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), ms);
    if (!ts.empty() && (ec != std::errc() || end != ts.data() + ts.size())) return std::nullopt;
  }
  s.value = *value;
  return s;
}

}  // namespace

Result<std::vector<Sample>> parse_exposition(std::string_view text) {
  std::vector<Sample> out;
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    auto sample = parse_line(line.substr(first));
    if (!sample) {
      return Error::malformed("metrics line " + std::to_string(number) +
                              " is not a sample: " + std::string(line.substr(0, 120)));
    }
    out.push_back(std::move(*sample));
  }
  return out;
}

}  // namespace mercato::obs
