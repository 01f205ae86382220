// Fuzz target: CloudEvent decoding (lib/events), as a consumer meets it on a broker.
//
// Input: byte 0 chooses the form, the rest is the message.
// - even: structured mode (NATS, the dead-letter store): the whole message is the event as JSON.
// - odd: binary mode (the Kafka binding): "name: value" lines up to an empty line are the message's
//   headers (the last of a name wins, as rd_kafka_header_get_last), the rest is the message's value.
// Every event that decodes is encoded again (to_json) and must decode to the same event, and its data
// is read as the services read it (data_object, text_member, integer_member, saga_of).
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
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

// What the event's data looks like after one trip through JSON.
std::string canonical(std::string_view data) {
  return boost::json::serialize(boost::json::parse(data));  // validate() accepted it: it parses
}

void round_trip(const events::CloudEvent& e) {
  auto again = events::from_json(events::to_json(e));
  if (!again) std::abort();
  events::CloudEvent expected = e;
  expected.data = canonical(e.data);
  if (!(*again == expected)) std::abort();
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
