// MessageParser: Beast's HTTP/1.1 parser writing straight into our Headers and body string.
//
// Why not bhttp::request_parser<string_body>: that parser keeps the header in Beast's basic_fields (an
// allocation per field) and the server and client then copied every field into our Headers (two more);
// a proxied request parses two messages, so those copies were a visible part of its cost. Beast's
// basic_parser does the parsing and the limits (header_limit, body_limit, chunked decoding); this class
// only decides where the pieces go.
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <cstdint>
#include <string>

#include "mercato/http/message.hpp"

namespace mercato::http::detail {

template <bool kIsRequest>
class MessageParser : public boost::beast::http::basic_parser<kIsRequest> {
 public:
  using string_view = boost::beast::string_view;
  using error_code = boost::system::error_code;

  explicit MessageParser(std::size_t expected_headers = 16) { headers.reserve(expected_headers, 512); }

  // Filled as the message is parsed.
  std::string method;  // request: as received
  std::string target;  // request: as received
  int status = 0;      // response
  unsigned version = 11;
  Headers headers;
  std::string body;

 private:
  void on_request_impl(boost::beast::http::verb, string_view method_text, string_view target_text,
                       int http_version, error_code&) override {
    method.assign(method_text.data(), method_text.size());
    target.assign(target_text.data(), target_text.size());
    version = static_cast<unsigned>(http_version);
  }
  void on_response_impl(int code, string_view, int http_version, error_code&) override {
    status = code;
    version = static_cast<unsigned>(http_version);
  }
  void on_field_impl(boost::beast::http::field, string_view name, string_view value, error_code&) override {
    headers.add(std::string_view(name.data(), name.size()), std::string_view(value.data(), value.size()));
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
    // The parser has already refused a length over body_limit.
    if (length) body.reserve(static_cast<std::size_t>(*length));
  }
  std::size_t on_body_impl(string_view piece, error_code&) override {
    body.append(piece.data(), piece.size());
    return piece.size();
  }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view piece, error_code&) override {
    body.append(piece.data(), piece.size());
    return piece.size();
  }
  void on_finish_impl(error_code&) override {}
};

using RequestParser = MessageParser<true>;
using ResponseParser = MessageParser<false>;

}  // namespace mercato::http::detail
