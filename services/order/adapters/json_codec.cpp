#include "adapters/json_codec.hpp"

#include <boost/json/parse.hpp>

namespace mercato::order {

boost::json::object to_json(const Address& a) {
  boost::json::object o{{"name", a.name},
                        {"line1", a.line1},
                        {"city", a.city},
                        {"postal_code", a.postal_code},
                        {"country", a.country}};
  if (!a.line2.empty()) o["line2"] = a.line2;
  return o;
}

boost::json::array to_json(const std::vector<Line>& lines) {
  boost::json::array out;
  for (const auto& l : lines) {
    out.push_back(boost::json::object{{"product_id", l.product_id},
                                      {"quantity", l.quantity},
                                      {"price_cents", l.unit_price_cents},
                                      {"line_total_cents", l.quantity * l.unit_price_cents}});
  }
  return out;
}

boost::json::object to_json(const Order& o) {
  boost::json::object out{{"id", o.id},
                          {"customer_id", o.customer_id},
                          {"status", to_string(o.status)},
                          {"total_cents", o.total_cents},
                          {"items", to_json(o.lines)},
                          {"shipping_address", to_json(o.shipping_address)},
                          {"created_at", format_rfc3339(o.created_at)},
                          {"updated_at", format_rfc3339(o.updated_at)}};
  if (o.status == Status::kCancelled) out["reason"] = o.reason;
  return out;
}

namespace {

std::string str(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

Result<Address> address_from_json(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return Error::internal("stored address is not a JSON object");
  const auto& o = v.get_object();
  return Address{str(o, "name"), str(o, "line1"),       str(o, "line2"),
                 str(o, "city"), str(o, "postal_code"), str(o, "country")};
}

Result<std::vector<Line>> lines_from_json(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_array()) return Error::internal("stored order lines are not a JSON array");
  std::vector<Line> lines;
  for (const auto& item : v.get_array()) {
    if (!item.is_object()) return Error::internal("stored order line is not an object");
    const auto& o = item.get_object();
    const auto* q = o.if_contains("quantity");
    const auto* p = o.if_contains("price_cents");
    if (q == nullptr || p == nullptr || !q->is_int64() || !p->is_int64()) {
      return Error::internal("stored order line lacks quantity or price");
    }
    lines.push_back(Line{str(o, "product_id"), q->get_int64(), p->get_int64()});
  }
  return lines;
}

}  // namespace mercato::order
