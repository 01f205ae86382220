// JSON forms of an order's parts, shared by the HTTP API and the SQLite adapter (which stores lines and
// the address as JSON text: they are always read and written with their order, never queried).
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "app/ports.hpp"
#include "domain/order.hpp"
#include "domain/saga.hpp"

namespace mercato::order {

boost::json::object to_json(const Address& address);
boost::json::array to_json(const std::vector<Line>& lines);
// The API form of an order (the payment token is never shown).
boost::json::object to_json(const Order& order);

// Reads back what to_json wrote; kInternal when the stored text is not what we wrote.
Result<Address> address_from_json(std::string_view text);
Result<std::vector<Line>> lines_from_json(std::string_view text);
// An entry of the order's stream as GET /orders/{id}/events shows it.
boost::json::object to_json(const HistoryEntry& entry);
// A saga as stored (and as GET /orders/{id}/saga shows it).
boost::json::object to_json(const Saga& saga);
Result<Saga> saga_from_json(std::string_view text);

}  // namespace mercato::order
