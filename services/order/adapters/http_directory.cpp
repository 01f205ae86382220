#include "adapters/http_directory.hpp"

#include <boost/json/parse.hpp>

namespace mercato::order {
namespace {

http::ClientRequest get_request(std::string target, const CallContext& ctx) {
  http::ClientRequest r{.method = http::Method::kGet, .target = std::move(target)};
  if (!ctx.request_id.empty()) r.headers.set(http::kRequestIdHeader, ctx.request_id);
  if (!ctx.traceparent.empty()) r.headers.set(http::kTraceparentHeader, ctx.traceparent);
  return r;
}

// A failed call names the service for the client, and keeps the client's text (which may hold the
// service's address) for the log; a refusal that is already fit for clients (an open circuit) is kept.
Error upstream_error(std::string_view service, const Error& e) {
  Error out = e;
  out.field.clear();
  if (!e.detail.empty()) {
    out.message = std::string(service) + ": " + e.message;
    return out;
  }
  switch (e.code) {
    case ErrorCode::kDeadlineExceeded:
      return out.with_public_message("the " + std::string(service) + " did not answer in time");
    case ErrorCode::kBadGateway:
      return out.with_public_message("the " + std::string(service) + " gave an invalid answer");
    default:
      return out.with_public_message("the " + std::string(service) + " is unavailable");
  }
}

Error unexpected_status(std::string_view service, int status) {
  auto e = Error::bad_gateway(std::string(service) + " answered with status " + std::to_string(status));
  e.detail = "an answer the order service does not expect";
  return e;
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
  co_return unexpected_status("user service", res->status);
}

boost::asio::awaitable<Result<std::optional<std::int64_t>>> HttpCatalog::unit_price(
    const std::string& product_id, const CallContext& ctx) {
  auto request = get_request("/inventory/" + product_id, ctx);
  resilience::Upstream::CallSettings settings{.deadline = ctx.deadline};
  auto call = co_await inventory_.call(std::move(request), settings, true);
  auto& res = call.result;
  if (!res) co_return upstream_error("inventory service", res.error());
  if (res->status == 404) co_return std::optional<std::int64_t>{};
  if (res->status != 200) co_return unexpected_status("inventory service", res->status);
  boost::system::error_code ec;
  auto body = boost::json::parse(res->body, ec);
  const boost::json::value* price =
      !ec && body.is_object() ? body.get_object().if_contains("price_cents") : nullptr;
  if (price == nullptr || !price->is_int64() || price->get_int64() < 0) {
    co_return Error::bad_gateway("inventory service: product " + product_id + " has no valid price_cents");
  }
  co_return std::optional<std::int64_t>{price->get_int64()};
}

}  // namespace mercato::order
