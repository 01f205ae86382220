#include "mercato/observability/metrics.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "shortest_double.hpp"

namespace mercato::obs {
namespace {

// Strips an explicit trailing +Inf (it is always implied) and checks the rest, so that Histogram and
// Registry agree on what "the same buckets" means.
std::vector<double> normalize_buckets(std::vector<double> bounds) {
  if (!bounds.empty() && bounds.back() == std::numeric_limits<double>::infinity()) bounds.pop_back();
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) throw std::invalid_argument("histogram bucket bounds must be finite");
    if (i > 0 && !(bounds[i - 1] < bounds[i])) {
      throw std::invalid_argument("histogram bucket bounds must be strictly increasing");
    }
  }
  return bounds;
}

bool valid_metric_name(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool valid_label_name(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// Validates and sorts labels into the canonical key of a series.
Labels canonical_labels(std::string_view metric, const Labels& labels, bool histogram) {
  Labels sorted = labels;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const std::string& name = sorted[i].first;
    if (!valid_label_name(name)) {
      throw std::invalid_argument("metric '" + std::string(metric) + "': invalid label name '" + name + "'");
    }
    if (name.size() >= 2 && name[0] == '_' && name[1] == '_') {
      throw std::invalid_argument("metric '" + std::string(metric) +
                                  "': label names starting with '__' are reserved");
    }
    if (histogram && name == "le") {
      throw std::invalid_argument("metric '" + std::string(metric) +
                                  "': label 'le' is reserved for histogram buckets");
    }
    if (i > 0 && sorted[i - 1].first == name) {
      throw std::invalid_argument("metric '" + std::string(metric) + "': label '" + name + "' given twice");
    }
  }
  return sorted;
}

// Prometheus spells the special values "+Inf", "-Inf" and "NaN"; everything else is the shortest
// decimal that round-trips, in plain notation for magnitudes from 1e-4 up to 1e21 (so byte counts
// and bucket bounds such as 0.0005 read naturally) and in exponent notation outside that range.
void append_number(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "NaN";
  } else if (std::isinf(d)) {
    out += d > 0 ? "+Inf" : "-Inf";
  } else {
    append_shortest_double(out, d);
  }
}

void append_number(std::string& out, std::uint64_t n) {
  std::array<char, 24> buf{};
  auto [ptr, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), n);
  out.append(buf.data(), ec == std::errc() ? ptr : buf.data());
}

void append_escaped(std::string& out, std::string_view s, bool quotes) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quotes && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// `{a="1",b="2"}` plus an optional extra pair (le), or nothing when there are no labels at all.
void append_labels(std::string& out, const Labels& labels, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  auto add = [&](std::string_view name, std::string_view value) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    append_escaped(out, value, true);
    out += '"';
  };
  for (const auto& [name, value] : labels) add(name, value);
  if (!extra_name.empty()) add(extra_name, extra_value);
  out += '}';
}

}  // namespace

// --- Histogram -------------------------------------------------------------------------------------

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(normalize_buckets(std::move(bounds))), buckets_(bounds_.size() + 1) {}

void Histogram::observe(double value) noexcept {
  // Bounds are inclusive upper limits, so the bucket is the first bound >= value. A linear scan would
  // do for 14 buckets too; binary search keeps long custom bucket lists cheap.
  std::size_t i = bounds_.size();
  if (!std::isnan(value)) {
    i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  }
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<double> default_latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

// --- Registry --------------------------------------------------------------------------------------

struct Registry::Family {
  std::string name;
  std::string help;
  Type type = Type::kCounter;
  std::vector<double> buckets;  // histograms only, normalized
  // Exactly one pointer is set per series. A counter family may hold Gauge series: that is how
  // process_cpu_seconds_total carries fractional seconds while declaring TYPE counter.
  struct Series {
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  std::map<Labels, Series> series;  // keyed by sorted labels, which also fixes the render order
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Family& Registry::family(std::string_view name, std::string_view help, Type type,
                                   const std::vector<double>* buckets) {
  // Caller holds mutex_.
  auto it = families_.find(name);
  if (it == families_.end()) {
    if (!valid_metric_name(name))
      throw std::invalid_argument("invalid metric name '" + std::string(name) + "'");
    auto fam = std::make_unique<Family>();
    fam->name = std::string(name);
    fam->help = std::string(help);
    fam->type = type;
    if (buckets != nullptr) fam->buckets = *buckets;
    it = families_.emplace(fam->name, std::move(fam)).first;
    return *it->second;
  }
  Family& fam = *it->second;
  if (fam.type != type)
    throw std::logic_error("metric '" + fam.name + "' already registered with another type");
  if (fam.help != help)
    throw std::logic_error("metric '" + fam.name + "' already registered with another help text");
  if (buckets != nullptr && fam.buckets != *buckets) {
    throw std::logic_error("histogram '" + fam.name + "' already registered with other buckets");
  }
  return fam;
}

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  Labels key = canonical_labels(name, labels, false);
  std::lock_guard lock(mutex_);
  Family& fam = family(name, help, Type::kCounter, nullptr);
  auto& s = fam.series[std::move(key)];
  if (!s.counter) {
    if (s.gauge) throw std::logic_error("metric '" + fam.name + "' is a floating-point counter");
    s.counter = std::make_unique<Counter>();
  }
  return *s.counter;
}

Gauge& Registry::gauge_with_type(std::string_view name, std::string_view help, const Labels& labels,
                                 Type type) {
  Labels key = canonical_labels(name, labels, false);
  std::lock_guard lock(mutex_);
  Family& fam = family(name, help, type, nullptr);
  auto& s = fam.series[std::move(key)];
  if (!s.gauge) {
    if (s.counter) throw std::logic_error("metric '" + fam.name + "' is an integer counter");
    s.gauge = std::make_unique<Gauge>();
  }
  return *s.gauge;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  return gauge_with_type(name, help, labels, Type::kGauge);
}

Histogram& Registry::histogram(std::string_view name, std::string_view help, const Labels& labels,
                               std::vector<double> buckets) {
  Labels key = canonical_labels(name, labels, true);
  std::vector<double> bounds = normalize_buckets(std::move(buckets));
  std::lock_guard lock(mutex_);
  Family& fam = family(name, help, Type::kHistogram, &bounds);
  auto& s = fam.series[std::move(key)];
  if (!s.histogram) s.histogram = std::make_unique<Histogram>(std::move(bounds));
  return *s.histogram;
}

void Registry::on_collect(std::function<void()> fn) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(fn));
}

std::string Registry::render() const {
  // Run collectors outside the lock: they update gauges and may register new ones.
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard lock(mutex_);
    collectors = collectors_;
  }
  for (const auto& fn : collectors) fn();

  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& [name, fam] : families_) {
    if (fam->series.empty()) continue;
    out += "# HELP ";
    out += name;
    out += ' ';
    append_escaped(out, fam->help, false);
    out += "\n# TYPE ";
    out += name;
    out += fam->type == Type::kCounter ? " counter\n"
           : fam->type == Type::kGauge ? " gauge\n"
                                       : " histogram\n";
    for (const auto& [labels, s] : fam->series) {
      if (s.histogram) {
        const Histogram& h = *s.histogram;
        // _count is the sum of the buckets read here, not count(), so that the +Inf bucket and _count
        // always agree even while observations race with the scrape.
        std::uint64_t cumulative = 0;
        std::string le;
        for (std::size_t i = 0; i <= h.bounds().size(); ++i) {
          cumulative += h.bucket_count(i);
          le.clear();
          append_number(le, i < h.bounds().size() ? h.bounds()[i] : std::numeric_limits<double>::infinity());
          out += name;
          out += "_bucket";
          append_labels(out, labels, "le", le);
          out += ' ';
          append_number(out, cumulative);
          out += '\n';
        }
        out += name;
        out += "_sum";
        append_labels(out, labels);
        out += ' ';
        append_number(out, h.sum());
        out += '\n';
        out += name;
        out += "_count";
        append_labels(out, labels);
        out += ' ';
        append_number(out, cumulative);
        out += '\n';
        continue;
      }
      if (!s.counter && !s.gauge) continue;
      out += name;
      append_labels(out, labels);
      out += ' ';
      if (s.counter) {
        append_number(out, s.counter->value());
      } else {
        append_number(out, s.gauge->value());
      }
      out += '\n';
    }
  }
  return out;
}

// --- process metrics -------------------------------------------------------------------------------

namespace {

// Reads a /proc file whole. Plain read(2): /proc files report size 0, so stream sizing tricks do not
// apply, and this runs on every scrape.
std::string read_proc_file(const char* path) {
  std::string text;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  std::array<char, 4096> buf{};
  ssize_t n;
  while ((n = ::read(fd, buf.data(), buf.size())) > 0) text.append(buf.data(), static_cast<std::size_t>(n));
  ::close(fd);
  return text;
}

// The fields of /proc/self/stat after the command name, which may itself contain spaces and ')', so
// parsing starts after the last ')'. Index 0 is field 3 (state) of proc(5).
std::vector<std::string> read_proc_stat_fields() {
  std::string text = read_proc_file("/proc/self/stat");
  auto close_paren = text.rfind(')');
  if (close_paren == std::string::npos) return {};
  std::istringstream rest(text.substr(close_paren + 1));
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) fields.push_back(std::move(f));
  return fields;
}

double field_as_double(const std::vector<std::string>& fields, std::size_t proc_field_number) {
  std::size_t i = proc_field_number - 3;
  if (i >= fields.size()) return 0;
  double v = 0;
  const std::string& f = fields[i];
  std::from_chars(f.data(), f.data() + f.size(), v);
  return v;
}

double boot_time_seconds() {
  std::string text = "\n" + read_proc_file("/proc/stat");
  auto pos = text.find("\nbtime ");
  return pos == std::string::npos ? 0 : std::strtod(text.c_str() + pos + 7, nullptr);
}

double count_open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  // The directory stream holds an fd of its own while we count; it is not one of the process's.
  const std::string own = std::to_string(::dirfd(dir));
  double n = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.' || own == e->d_name) continue;
    ++n;
  }
  ::closedir(dir);
  return n;
}

}  // namespace

void Registry::register_process_metrics() {
  {
    std::lock_guard lock(mutex_);
    if (process_metrics_registered_) return;
    process_metrics_registered_ = true;
  }
  Gauge& cpu = gauge_with_type("process_cpu_seconds_total",
                               "Total user and system CPU time spent in seconds.", {}, Type::kCounter);
  Gauge& rss = gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  Gauge& vsize = gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.");
  Gauge& open_fds = gauge("process_open_fds", "Number of open file descriptors.");
  Gauge& max_fds = gauge("process_max_fds", "Maximum number of open file descriptors.");
  Gauge& start =
      gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.");
  Gauge& threads = gauge("process_threads", "Number of OS threads in the process.");

  const auto ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const auto page_size = static_cast<double>(::sysconf(_SC_PAGESIZE));
  {
    // The start time never changes: compute it once instead of on every scrape.
    auto fields = read_proc_stat_fields();
    if (!fields.empty() && ticks > 0) start.set(boot_time_seconds() + field_as_double(fields, 22) / ticks);
  }
  on_collect([&cpu, &rss, &vsize, &open_fds, &max_fds, &threads, ticks, page_size] {
    auto fields = read_proc_stat_fields();
    if (!fields.empty() && ticks > 0) {
      cpu.set((field_as_double(fields, 14) + field_as_double(fields, 15)) / ticks);
      threads.set(field_as_double(fields, 20));
      vsize.set(field_as_double(fields, 23));
      rss.set(field_as_double(fields, 24) * page_size);
    }
    open_fds.set(count_open_fds());
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
      max_fds.set(lim.rlim_cur == RLIM_INFINITY ? std::numeric_limits<double>::infinity()
                                                : static_cast<double>(lim.rlim_cur));
    }
  });
}

}  // namespace mercato::obs
