// MessageParser: Beast's HTTP/1.1 parser writing straight into our Headers and body string.
//
// Why not bhttp::request_parser<string_body>: that parser keeps the header in Beast's basic_fields (an
// allocation per field) and the server and client then copied every field into our Headers (two more);
// a proxied request parses two messages, so those copies were a visible part of its cost. Beast's
// basic_parser does the parsing and the limits (header_limit, body_limit, chunked decoding); this class
// only decides where the pieces go, and refuses what Beast accepts but a server in front of others must not
// (request smuggling, RFC 9112 §6.1 and §6.3; RFC 9110 §6.5 on trailers):
// - a Transfer-Encoding other than exactly one `chunked`: Beast frames `chunked, identity` or `identity`
//   as a request without a body, so the body would be read as the next request on the connection;
// - Transfer-Encoding in an HTTP/1.0 request; more than one Content-Length (even if equal) or a list;
// - more than one Host;
// - trailer fields are dropped, never merged into the headers (they arrive after anyone inspected the
//   header section); they and chunk extensions count toward the header limit, which Beast applies to
//   the header section alone.
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cstdint>
#include <string>

#include "mercato/http/message.hpp"

namespace mercato::http::detail {

template <bool kIsRequest>
class MessageParser : public boost::beast::http::basic_parser<kIsRequest> {
 public:
  using string_view = boost::beast::string_view;
  using error_code = boost::system::error_code;
  using field = boost::beast::http::field;

  explicit MessageParser(std::size_t expected_headers = 16) { headers.reserve(expected_headers, 512); }

  // The header section's limit, which also bounds the trailer section and the chunk extensions.
  void limit_header_bytes(std::uint32_t n) {
    this->header_limit(n);
    section_limit_ = n;
  }

  // Filled as the message is parsed.
  std::string method;  // request: as received
  std::string target;  // request: as received
  int status = 0;      // response
  unsigned version = 11;
  Headers headers;
  std::string body;
  // Why a request was refused when Beast itself would have accepted it (the parse ends with
  // bad_value); nullptr otherwise.
  const char* refusal = nullptr;

 private:
  void refuse(error_code& ec, const char* why) {
    refusal = why;
    ec = boost::beast::http::error::bad_value;
  }
  // Counts `n` more bytes of fields, trailers or chunk extensions against the header limit.
  void count(std::size_t n, error_code& ec) {
    section_bytes_ += n;
    if (section_bytes_ > section_limit_) ec = boost::beast::http::error::header_limit;
  }
  static bool is_token_chunked(std::string_view value) {
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    return iequals(value, "chunked");
  }

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
  void on_field_impl(field f, string_view name, string_view value, error_code& ec) override {
    count(name.size() + value.size() + 4, ec);  // "name: value\r\n"
    if (ec) return;
    if (in_trailers_) return;  // dropped: see the top of this file
    if constexpr (kIsRequest) {
      if (f == field::host && ++host_fields_ > 1) return refuse(ec, "more than one Host header");
      if (f == field::content_length &&
          (++content_length_fields_ > 1 || value.find(',') != string_view::npos)) {
        return refuse(ec, "more than one Content-Length");
      }
      if (f == field::transfer_encoding) {
        if (++transfer_encoding_fields_ > 1) return refuse(ec, "more than one Transfer-Encoding header");
        if (!is_token_chunked(std::string_view(value.data(), value.size()))) {
          return refuse(ec, "Transfer-Encoding must be exactly 'chunked'");
        }
      }
    }
    headers.add(std::string_view(name.data(), name.size()), std::string_view(value.data(), value.size()));
  }
  void on_header_impl(error_code& ec) override {
    in_trailers_ = true;  // any field after this point is a trailer
    if constexpr (kIsRequest) {
      if (transfer_encoding_fields_ > 0 && version < 11) {
        return refuse(ec, "Transfer-Encoding is not allowed in an HTTP/1.0 request");
      }
      // RFC 9112 §3.2: a server must answer 400 to an HTTP/1.1 request without Host.
      if (host_fields_ == 0 && version >= 11)
        return refuse(ec, "an HTTP/1.1 request must carry a Host header");
    }
  }
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
    // The parser has already refused a length over body_limit.
    if (length) body.reserve(static_cast<std::size_t>(*length));
  }
  std::size_t on_body_impl(string_view piece, error_code&) override {
    body.append(piece.data(), piece.size());
    return piece.size();
  }
  void on_chunk_header_impl(std::uint64_t, string_view extensions, error_code& ec) override {
    count(extensions.size(), ec);
  }
  std::size_t on_chunk_body_impl(std::uint64_t, string_view piece, error_code&) override {
    body.append(piece.data(), piece.size());
    return piece.size();
  }
  void on_finish_impl(error_code&) override {}

  std::size_t section_limit_ = std::size_t{8} * 1024;  // Beast's default header limit
  std::size_t section_bytes_ = 0;
  bool in_trailers_ = false;
  int host_fields_ = 0;
  int content_length_fields_ = 0;
  int transfer_encoding_fields_ = 0;
};

using RequestParser = MessageParser<true>;
using ResponseParser = MessageParser<false>;

}  // namespace mercato::http::detail
