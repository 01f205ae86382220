// Fuzz target: CloudEvent decoding (lib/events), as a consumer meets it on a broker.
//
// Input: byte 0 chooses the form, the rest is the message.
// - even: structured mode (NATS, the dead-letter store): the whole message is the event as JSON.
// - odd: binary mode (the Kafka binding): "name: value" lines up to an empty line are the message's
//   headers (the last of a name wins, as rd_kafka_header_get_last), the rest is the message's value.
// Every event that decodes is encoded again (to_json) and must decode to the same event — its data the
// same JSON value, doubles equal within rounding — and its data is read as the services read it
// (data_object, text_member, integer_member, saga_of).
#include <bit>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "mercato/events/data.hpp"
#include "mercato/events/event.hpp"

namespace {

using namespace mercato;

void read_data(const events::CloudEvent& e) {
  (void)events::schema_version(e);
  (void)events::saga_of(e);
  auto data = events::data_object(e, 2);
  if (!data) return;
  (void)events::text_member(*data, "order_id");
  (void)events::integer_member(*data, "amount_cents");
  if (auto* address = data->if_contains("shipping_address"); address && address->is_object()) {
    (void)events::text_member(address->get_object(), "city", true, "shipping_address.city");
  }
}

// How many units in the last place two doubles may differ by and still be "the same number written
// twice". Boost.JSON 1.81 writes a double with the shortest digits that a correctly rounding reader
// reads back exactly, but its own reader is not correctly rounded: reading them may give a neighbour
// (1844675977537000000000000001185383936 reads as 1.8446759775369998E36, written and read again as
// 1.8446759775370001E36; the input is in the corpus). Measured over millions of doubles, one trip
// through text moves a double by at most 2 units; the round trip below makes two trips.
constexpr std::uint64_t kRoundingUlps = 4;

bool same_within_rounding(double a, double b) {
  if (a == b) return true;  // also 0 and -0
  if (!std::isfinite(a) || !std::isfinite(b) || std::signbit(a) != std::signbit(b)) return false;
  // For doubles of one sign, the order of their bit patterns is the order of their values, and the
  // difference of the patterns counts the doubles between them.
  auto ua = std::bit_cast<std::uint64_t>(std::fabs(a));
  auto ub = std::bit_cast<std::uint64_t>(std::fabs(b));
  return (ua > ub ? ua - ub : ub - ua) <= kRoundingUlps;
}

// The same JSON value, except that doubles may differ by rounding.
bool same_data(const boost::json::value& a, const boost::json::value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case boost::json::kind::double_:
      return same_within_rounding(a.get_double(), b.get_double());
    case boost::json::kind::array: {
      const auto& x = a.get_array();
      const auto& y = b.get_array();
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!same_data(x[i], y[i])) return false;
      }
      return true;
    }
    case boost::json::kind::object: {
      const auto& x = a.get_object();
      const auto& y = b.get_object();
      if (x.size() != y.size()) return false;
      for (const auto& member : x) {
        const auto* other = y.if_contains(member.key());
        if (other == nullptr || !same_data(member.value(), *other)) return false;
      }
      return true;
    }
    default:
      return a == b;
  }
}

// Encoded and decoded again, the event has the same attributes and the same data (validate() accepted
// the data, so it parses).
void round_trip(const events::CloudEvent& e) {
  auto again = events::from_json(events::to_json(e));
  if (!again) std::abort();
  events::CloudEvent attributes = *again;
  attributes.data = e.data;
  if (!(attributes == e)) std::abort();
  if (!same_data(boost::json::parse(e.data), boost::json::parse(again->data))) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view message(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((data[0] & 1U) == 0) {
    auto event = events::from_json(message);
    if (!event) return 0;
    read_data(*event);
    round_trip(*event);
    return 0;
  }
  std::map<std::string, std::string, std::less<>> headers;
  while (!message.empty()) {
    auto eol = message.find('\n');
    std::string_view line = message.substr(0, eol);
    message.remove_prefix(eol == std::string_view::npos ? message.size() : eol + 1);
    if (line.empty()) break;
    auto colon = line.find(": ");
    if (colon == std::string_view::npos) continue;
    headers[std::string(line.substr(0, colon))] = std::string(line.substr(colon + 2));
  }
  events::CloudEvent event;
  auto decoded = events::from_binary(
      [&headers](std::string_view name) -> std::optional<std::string_view> {
        auto it = headers.find(name);
        if (it == headers.end()) return std::nullopt;
        return it->second;
      },
      message, event);
  if (!decoded) return 0;
  read_data(event);
  round_trip(event);
  return 0;
}
