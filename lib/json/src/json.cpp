#include "mercato/json/json.hpp"

#include <algorithm>
#include <array>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_stack.hpp>
#include <cmath>
#include <optional>
#include <unordered_set>
#include <vector>

namespace mercato::json {

namespace {

constexpr std::size_t kMaxDepth = 32;

// A second pass over a document already known to be valid, with Boost.JSON's SAX parser, for what the
// value parser of Boost 1.81 lets through:
// - duplicate keys: its value parser keeps the last and has no option to refuse them, and two readers
//   that disagree on which duplicate counts (first, last, both) can be played against each other;
// - numbers beyond the range of a double ("2e951"): it reads them as infinity, which JSON cannot
//   express, so the value serialized again is "Infinity", not JSON, and whoever reads it next fails.
// It tracks where it is ("items[0].price") so that an error can name the member.
class DocumentChecker {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  bool refuse_duplicates = true;
  std::optional<Error> problem;  // the first one seen; the parse stops there

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_array_begin(boost::system::error_code&) {
    open(false);
    return true;
  }
  bool on_array_end(std::size_t, boost::system::error_code&) {
    close();
    return true;
  }
  bool on_object_begin(boost::system::error_code&) {
    open(true);
    return true;
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    close();
    return true;
  }
  bool on_string_part(boost::json::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_string(boost::json::string_view, std::size_t, boost::system::error_code&) {
    value_done();
    return true;
  }
  bool on_key_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, boost::system::error_code& ec) {
    key_.append(s.data(), s.size());
    Frame& frame = frames_.back();
    bool fresh = frame.keys.insert(key_).second;
    frame.key = std::move(key_);
    key_.clear();
    if (!fresh && refuse_duplicates) {
      std::string key = frame.key.substr(0, 64);  // enough to find it; the error echoes client input
      return stop(ec, Error::malformed("duplicate key '" + key + "'"));
    }
    return true;
  }
  bool on_number_part(boost::json::string_view s, boost::system::error_code&) {
    number_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t, boost::json::string_view, boost::system::error_code&) { return number_done(); }
  bool on_uint64(std::uint64_t, boost::json::string_view, boost::system::error_code&) {
    return number_done();
  }
  bool on_double(double d, boost::json::string_view s, boost::system::error_code& ec) {
    if (!std::isfinite(d)) {
      number_.append(s.data(), s.size());
      if (number_.size() > 32) number_ = number_.substr(0, 32) + "...";
      std::string where = path();
      std::string what = "number " + number_ + " is beyond the range of a double";
      return stop(ec, Error::validation(where, where.empty() ? what : where + ": " + what));
    }
    return number_done();
  }
  bool on_bool(bool, boost::system::error_code&) {
    value_done();
    return true;
  }
  bool on_null(boost::system::error_code&) {
    value_done();
    return true;
  }
  bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }

 private:
  struct Frame {
    bool object = false;
    std::unordered_set<std::string> keys;  // an object's keys so far
    std::string key;                       // an object's current member
    std::size_t index = 0;                 // an array's current element
  };

  void open(bool object) { frames_.push_back(Frame{.object = object}); }
  void close() {
    frames_.pop_back();
    value_done();
  }
  // A value ended: the array it is in moves on to its next element.
  void value_done() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
  }
  bool number_done() {
    number_.clear();
    value_done();
    return true;
  }
  bool stop(boost::system::error_code& ec, Error error) {
    problem = std::move(error);
    ec = boost::json::error::syntax;  // stops the parse; `problem` says why
    return false;
  }
  // Where the parser is, e.g. "items[0].price" (the members of the top-level object unprefixed).
  std::string path() const {
    std::string out;
    for (const Frame& f : frames_) {
      if (f.object) {
        if (!out.empty()) out += '.';
        out += f.key.substr(0, 64);
      } else {
        out += "[" + std::to_string(f.index) + "]";
      }
    }
    return out;
  }

  std::vector<Frame> frames_;  // the containers still open, outermost first
  std::string key_;
  std::string number_;
};

// The first problem DocumentChecker finds in `text`, which the value parser accepted with `options`.
std::optional<Error> check_document(std::string_view text, const boost::json::parse_options& options,
                                    bool refuse_duplicates) {
  boost::json::basic_parser<DocumentChecker> parser(options);
  parser.handler().refuse_duplicates = refuse_duplicates;
  boost::system::error_code ec;
  parser.write_some(false, text.data(), text.size(), ec);
  return std::move(parser.handler().problem);
}

boost::json::parse_options reader_options() {
  boost::json::parse_options options;
  options.max_depth = kMaxDepth;
  return options;
}

// The value parser's work (a DOM through boost::json::value_stack, as boost::json::parser builds it) in
// the same pass as what decides whether DocumentChecker must look: a non-finite double, and the members
// the text's objects have. A DOM object keeps one member per key, so the DOM's members fall short of the
// text's exactly when some object has a key twice. Valid documents, nearly all of them, are read once
// and checked by a walk that allocates nothing; DocumentChecker's key sets, paths and their allocations
// (a second pass that cost more than the parse itself) run only to name a problem already known to be
// there.
class ValueBuilder {
 public:
  static constexpr std::size_t max_object_size = boost::json::object::max_size();
  static constexpr std::size_t max_array_size = boost::json::array::max_size();
  static constexpr std::size_t max_key_size = boost::json::string::max_size();
  static constexpr std::size_t max_string_size = boost::json::string::max_size();

  // `temp`: a buffer for the stack's work while the value is built (boost::json::parse gives its own
  // the same way), so that a small document costs no allocation besides its value's.
  ValueBuilder(unsigned char* temp, std::size_t size) : stack(boost::json::storage_ptr(), temp, size) {}

  boost::json::value_stack stack;
  std::size_t members = 0;  // in the text, duplicates included
  bool non_finite = false;

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) { return true; }
  bool on_object_end(std::size_t n, boost::system::error_code&) {
    members += n;
    stack.push_object(n);
    return true;
  }
  bool on_array_begin(boost::system::error_code&) { return true; }
  bool on_array_end(std::size_t n, boost::system::error_code&) {
    stack.push_array(n);
    return true;
  }
  bool on_key_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    stack.push_chars(s);
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    stack.push_key(s);
    return true;
  }
  bool on_string_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    stack.push_chars(s);
    return true;
  }
  bool on_string(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    stack.push_string(s);
    return true;
  }
  bool on_number_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t i, boost::json::string_view, boost::system::error_code&) {
    stack.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, boost::json::string_view, boost::system::error_code&) {
    stack.push_uint64(u);
    return true;
  }
  bool on_double(double d, boost::json::string_view, boost::system::error_code&) {
    if (!std::isfinite(d)) non_finite = true;
    stack.push_double(d);
    return true;
  }
  bool on_bool(bool b, boost::system::error_code&) {
    stack.push_bool(b);
    return true;
  }
  bool on_null(boost::system::error_code&) {
    stack.push_null();
    return true;
  }
  bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }
};

// The members of every object in `v`, at any depth (each object's keys are distinct).
std::size_t members_in(const boost::json::value& v) {
  std::size_t n = 0;
  if (const auto* o = v.if_object()) {
    n += o->size();
    for (const auto& member : *o) n += members_in(member.value());
  } else if (const auto* a = v.if_array()) {
    for (const auto& element : *a) n += members_in(element);
  }
  return n;
}

// The document in `text` as a value, refused as the value parser refuses it (ec), and then as
// DocumentChecker would refuse it, only when the single pass saw that it must.
Result<boost::json::value> read_document(std::string_view text, bool refuse_duplicates,
                                         boost::system::error_code& ec) {
  auto options = reader_options();
  std::array<unsigned char, BOOST_JSON_STACK_BUFFER_SIZE> temp;
  boost::json::basic_parser<ValueBuilder> parser(options, temp.data(), temp.size());
  ValueBuilder& builder = parser.handler();
  builder.stack.reset();
  std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && used < text.size()) ec = boost::json::error::extra_data;  // as boost::json::parse says
  if (ec) return boost::json::value();
  boost::json::value value = builder.stack.release();
  bool look = builder.non_finite || (refuse_duplicates && members_in(value) != builder.members);
  if (look) {
    if (auto problem = check_document(text, options, refuse_duplicates)) return std::move(*problem);
  }
  return value;
}

}  // namespace

Result<boost::json::value> parse_value(std::string_view text) {
  boost::system::error_code ec;
  auto value = read_document(text, false, ec);
  if (ec) return Error::malformed("not valid JSON: " + ec.message());
  return value;
}

Result<boost::json::object> parse_object(std::string_view text) {
  boost::system::error_code ec;
  auto value = read_document(text, true, ec);
  if (ec) {
    if (text.empty()) return Error::malformed("request body is empty; expected a JSON object");
    return Error::malformed("request body is not valid JSON: " + ec.message());
  }
  if (!value) {
    Error problem = std::move(value).error();
    if (problem.code == ErrorCode::kMalformedRequest)
      problem.message = "request body has a " + problem.message;
    return problem;
  }
  if (!value->is_object()) return Error::malformed("request body must be a JSON object");
  return std::move(value->as_object());
}

Result<void> parse_no_fields(std::string_view text) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return {};
  MERCATO_ASSIGN_OR_RETURN(auto body, parse_object(text));
  return FieldReader(body).finish();
}

std::string serialize(const boost::json::value& value) { return boost::json::serialize(value); }

FieldReader::FieldReader(const boost::json::object& object, std::string path)
    : object_(object), path_(std::move(path)) {}

std::string FieldReader::field_name(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  return path_ + "." + std::string(key);
}

void FieldReader::fail(std::string_view key, std::string message) {
  if (!error_) error_ = Error::validation(field_name(key), field_name(key) + ": " + std::move(message));
}

void FieldReader::allow(std::string_view key) { known_.emplace_back(key); }

const boost::json::value* FieldReader::lookup(std::string_view key, Presence presence) {
  known_.emplace_back(key);
  if (error_) return nullptr;
  const boost::json::value* v = object_.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (presence == kRequired) fail(key, v == nullptr ? "is required" : "must not be null");
    return nullptr;
  }
  return v;
}

const boost::json::value* FieldReader::lookup(std::string_view key, Presence presence, boost::json::kind kind,
                                              std::string_view expected) {
  const auto* v = lookup(key, presence);
  if (v == nullptr || v->kind() == kind) return v;
  fail(key, std::string(expected));
  return nullptr;
}

std::optional<std::string> FieldReader::string(std::string_view key, Presence presence, StringRule rule) {
  const auto* v = lookup(key, presence, boost::json::kind::string, "must be a string");
  if (v == nullptr) return std::nullopt;
  const auto& s = v->get_string();
  if (s.size() < rule.min) {
    fail(key,
         rule.min == 1 ? "must not be empty" : "must be at least " + std::to_string(rule.min) + " bytes");
    return std::nullopt;
  }
  if (s.size() > rule.max) {
    fail(key, "must be at most " + std::to_string(rule.max) + " bytes");
    return std::nullopt;
  }
  return std::string(s);
}

std::optional<std::int64_t> FieldReader::integer(std::string_view key, Presence presence, std::int64_t min,
                                                 std::int64_t max) {
  const auto* v = lookup(key, presence);
  if (v == nullptr) return std::nullopt;
  std::int64_t n = 0;
  if (v->is_int64()) {
    n = v->get_int64();
  } else if (v->is_uint64()) {
    fail(key, "must be at most " + std::to_string(max));
    return std::nullopt;
  } else {
    // 2.0 is not accepted either: money and quantities are integers on the wire, never floats.
    fail(key, "must be an integer");
    return std::nullopt;
  }
  if (n < min || n > max) {
    fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return n;
}

std::optional<bool> FieldReader::boolean(std::string_view key, Presence presence) {
  const auto* v = lookup(key, presence, boost::json::kind::bool_, "must be true or false");
  if (v == nullptr) return std::nullopt;
  return v->get_bool();
}

const boost::json::array* FieldReader::array(std::string_view key, Presence presence) {
  const auto* v = lookup(key, presence, boost::json::kind::array, "must be an array");
  return v == nullptr ? nullptr : &v->get_array();
}

const boost::json::object* FieldReader::object(std::string_view key, Presence presence) {
  const auto* v = lookup(key, presence, boost::json::kind::object, "must be an object");
  return v == nullptr ? nullptr : &v->get_object();
}

Result<void> FieldReader::finish() {
  if (error_) return *error_;
  for (const auto& kv : object_) {
    if (std::find(known_.begin(), known_.end(), kv.key()) == known_.end()) {
      std::string name = field_name(kv.key());
      return Error::validation(name, name + ": unknown field");
    }
  }
  return {};
}

}  // namespace mercato::json
