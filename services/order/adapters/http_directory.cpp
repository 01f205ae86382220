#include "adapters/http_directory.hpp"

#include <boost/json/parse.hpp>

#include "adapters/upstream_error.hpp"

namespace mercato::order {
namespace {

http::ClientRequest get_request(std::string target, const CallContext& ctx) {
  http::ClientRequest r{.method = http::Method::kGet, .target = std::move(target)};
  if (!ctx.request_id.empty()) r.headers.set(http::kRequestIdHeader, ctx.request_id);
  if (!ctx.traceparent.empty()) r.headers.set(http::kTraceparentHeader, ctx.traceparent);
  return r;
}

}  // namespace

boost::asio::awaitable<Result<bool>> HttpCustomerDirectory::exists(const std::string& customer_id,
                                                                   const CallContext& ctx) {
  // Ids reaching here passed the API's id check (letters, digits, '.', '_', '-'): safe in a path.
  auto authorization = co_await identity_.authorization();
  if (!authorization) co_return upstream_error("user service", authorization.error());
  auto request = get_request("/users/" + customer_id, ctx);
  request.headers.set("Authorization", *authorization);
  resilience::Upstream::CallSettings settings{.deadline = ctx.deadline};
  auto call = co_await users_.call(std::move(request), settings, true);
  auto& res = call.result;
  if (!res) co_return upstream_error("user service", res.error());
  if (res->status == 200) co_return true;
  if (res->status == 404) co_return false;
  co_return unexpected_answer("user service", "status " + std::to_string(res->status));
}

boost::asio::awaitable<Result<Prices>> HttpCatalog::prices(std::vector<std::string> product_ids,
                                                           const CallContext& ctx) {
  // The REST API has one product per call: one GET per product, in turn (gRPC asks once).
  Prices out;
  for (const auto& product_id : product_ids) {
    auto request = get_request("/inventory/" + product_id, ctx);
    resilience::Upstream::CallSettings settings{.deadline = ctx.deadline};
    auto call = co_await inventory_.call(std::move(request), settings, true);
    auto& res = call.result;
    if (!res) co_return upstream_error("inventory service", res.error());
    if (res->status == 404) continue;
    if (res->status != 200)
      co_return unexpected_answer("inventory service", "status " + std::to_string(res->status));
    boost::system::error_code ec;
    auto body = boost::json::parse(res->body, ec);
    const boost::json::value* price =
        !ec && body.is_object() ? body.get_object().if_contains("price_cents") : nullptr;
    if (price == nullptr || !price->is_int64() || price->get_int64() < 0) {
      co_return Error::bad_gateway("inventory service: product " + product_id + " has no valid price_cents");
    }
    out[product_id] = price->get_int64();
  }
  co_return out;
}

}  // namespace mercato::order
