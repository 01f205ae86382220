// Reading JSON: Boost.JSON's parser alone (the reference: what any reader must pay) beside lib/json's
// readers, which refuse duplicate keys and numbers beyond a double on top of it, and events::from_json,
// which reads a whole CloudEvent. The documents are what the order flow sends: an order.created event
// (its envelope and data as the order service writes them) and a placement's request body.
#include <benchmark/benchmark.h>

#include <boost/json.hpp>
#include <string>

#include "mercato/events/event.hpp"
#include "mercato/json/json.hpp"

namespace {

using namespace mercato;

const std::string& order_created() {
  static const std::string kText = [] {
    std::string data =
        R"({"order_id":"01a25192-eda0-784f-8a1b-0123456789ab","customer_id":"5d0f8e2c-1a2b-4c3d-9e8f-0123456789ab",)"
        R"("total_cents":4497,"payment_token":"tok_visa","lines":[)"
        R"({"product_id":"ld-tposuy-5c9d-p0","quantity":2,"unit_price_cents":1999},)"
        R"({"product_id":"ld-tposuy-5c9d-p1","quantity":1,"unit_price_cents":499}],)"
        R"("shipping_address":{"name":"Ann Example","line1":"1 Main St","line2":"","city":"Berlin",)"
        R"("postal_code":"10115","country":"DE"},"created_at":"2026-12-07T18:00:00.000Z","saga":"choreography"})";
    auto e = events::make_event("order", "order.created", "01a25192-eda0-784f-8a1b-0123456789ab", data,
                                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    return events::to_json(e);
  }();
  return kText;
}

const std::string& placement() {
  static const std::string kText =
      R"({"customer_id":"5d0f8e2c-1a2b-4c3d-9e8f-0123456789ab","payment_token":"tok_visa","items":[)"
      R"({"product_id":"ld-tposuy-5c9d-p0","quantity":2},{"product_id":"ld-tposuy-5c9d-p1","quantity":1}],)"
      R"("shipping_address":{"name":"Ann Example","line1":"1 Main St","city":"Berlin","postal_code":"10115",)"
      R"("country":"DE"}})";
  return kText;
}

// Reads `text` with `read` once per iteration; `read` answers whether it could.
template <typename Read>
void reads(benchmark::State& state, const std::string& text, Read read) {
  for (auto _ : state) {
    if (!read(text)) state.SkipWithError("the document could not be read");
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}

bool bare(const std::string& text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  benchmark::DoNotOptimize(v);
  return !ec;
}

// A reader's Result, kept from the optimizer.
template <typename T>
bool kept(T&& result) {
  benchmark::DoNotOptimize(result);
  return static_cast<bool>(result);
}

void event_boost_parse(benchmark::State& state) { reads(state, order_created(), bare); }
void body_boost_parse(benchmark::State& state) { reads(state, placement(), bare); }
void event_parse_value(benchmark::State& state) {
  reads(state, order_created(), [](const std::string& t) { return kept(json::parse_value(t)); });
}
void body_parse_object(benchmark::State& state) {
  reads(state, placement(), [](const std::string& t) { return kept(json::parse_object(t)); });
}
void event_from_json(benchmark::State& state) {
  reads(state, order_created(), [](const std::string& t) { return kept(events::from_json(t)); });
}

BENCHMARK(event_boost_parse);
BENCHMARK(event_parse_value);
BENCHMARK(event_from_json);
BENCHMARK(body_boost_parse);
BENCHMARK(body_parse_object);

}  // namespace

BENCHMARK_MAIN();
