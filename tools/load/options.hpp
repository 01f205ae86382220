// The load generator's command line: parsing and validation, with no I/O, so every rule is unit-tested.
//
//   auto parsed = load::parse_options({"--rate", "200", "--duration", "30s"});
//   if (!parsed) { std::cerr << "mercato-load: " << parsed.error().message << "\n"; return 2; }
//   if (parsed->help) { std::cout << load::usage(); return 0; }
//
// Every option is described by usage(). A bad option or value is an Error naming the option
// (ErrorCode::kValidationFailed, field = the option without dashes), never an exception.
//
// Thread-safety: plain values.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mercato/core/result.hpp"
#include "mix.hpp"

namespace mercato::load {

struct Options {
  std::string gateway = "127.0.0.1:8080";  // --gateway HOST:PORT
  bool closed = false;                     // --closed: closed loop instead of a constant arrival rate
  double rate = 100;                       // --rate: intended operations per second (open loop)
  int connections = 32;                    // --connections: in-flight cap (open) / workers (closed)
  int threads = 1;                         // --threads: I/O threads of the generator
  std::optional<std::chrono::milliseconds> duration;  // --duration; 10 s when neither it nor --count
  std::optional<std::uint64_t> count;                 // --count: operations to send
  Mix mix;                                            // --mix
  int products = 20;                                  // --products: created by the setup phase
  std::int64_t stock = 1'000'000'000;                 // --stock: available units per product
  int customers = 20;                                 // --customers: registered by the setup phase
  std::string prefix;                                 // --prefix: run-unique id/email prefix ("" = generated)
  // How the setup stocks products as the admin: an access token (--admin-token), or a login as
  // admin@mercato.local with the password in a file (--admin-password-file). At most one is given here;
  // neither: main() falls back to MERCATO_ADMIN_TOKEN, then to <var>/secrets/admin-password.
  std::string admin_token;                       // --admin-token TOKEN
  std::string admin_password_file;               // --admin-password-file FILE
  std::chrono::milliseconds settle{30'000};      // --settle: wait for pending orders at most this
  std::chrono::milliseconds timeout{10'000};     // --timeout: per request
  std::string json_path;                         // --json FILE
  bool check = true;                             // --no-check turns it off
  std::string check_command;                     // --check-command ("" = <source>/mercato check)
  std::chrono::milliseconds check_wait{10'000};  // --check-wait: repeat a failing check this long
  double max_error_rate = 0.01;                  // --max-error-rate
  std::optional<std::uint64_t> seed;             // --seed: the mix's random numbers
  double renew_at = 0.75;                        // --renew-at: renew a session this far into its life
  bool progress = true;                          // --no-progress turns it off
  bool help = false;                             // --help / -h

  // How long the run sends: --duration; 10 s when neither --duration nor --count was given; none when
  // only --count was (the run then ends after that many operations, each bounded by --timeout).
  std::optional<std::chrono::milliseconds> effective_duration() const;
};

// `args` without the program name. Accepts "--name value" and "--name=value".
Result<Options> parse_options(const std::vector<std::string>& args);

// "30s", "500ms", "2m", "1h", or plain seconds ("2.5"); > 0 unless `allow_zero`.
Result<std::chrono::milliseconds> parse_duration(std::string_view text, std::string_view option,
                                                 bool allow_zero = false);

// The --help text.
std::string usage();

}  // namespace mercato::load
