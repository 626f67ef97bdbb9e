// export_csv and export_json (declared in summary.h). Layouts: docs/results_schema.md.
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "report/records_json.h"
#include "report/summary.h"

namespace dnnfi {

namespace {

namespace fs = std::filesystem;

// Trials are read and written this many ids at a time, so an export of millions of trials needs
// memory for one chunk, not the whole campaign.
constexpr std::size_t kExportChunk = 4096;

// Calls fn(trial) for every trial in id order.
template <typename Fn>
void for_each_trial(const ResultsDb& db, Fn&& fn) {
  const std::vector<std::int64_t> ids = db.trial_ids();
  for (std::size_t i = 0; i < ids.size(); i += kExportChunk) {
    const std::size_t end = std::min(ids.size(), i + kExportChunk);
    for (const TrialRecord& t : db.trials(ids[i], ids[end - 1] + 1)) fn(t);
  }
}

class OutputFile {
 public:
  explicit OutputFile(std::string path) : path_(std::move(path)), out_(path_, std::ios::binary) {
    if (!out_) throw InputError(fmt::format("{}: cannot write: {}", path_, std::strerror(errno)));
  }
  std::ofstream& stream() { return out_; }
  // Reports a failed write (disk full) that the stream only remembers.
  void close() {
    out_.close();
    if (!out_) throw InputError(fmt::format("{}: cannot write: {}", path_, std::strerror(errno)));
  }

 private:
  std::string path_;
  std::ofstream out_;
};

// RFC 4180: a field holding a comma, quote or line break is quoted, its quotes doubled.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  q += '"';
  return q;
}

// Shortest text that reads back as the same double (fmt's default), which is never more digits
// than max_digits10; non-finite values print as nan, inf, -inf.
std::string csv_double(double v) { return fmt::format("{}", v); }

// Names and error texts come from model files and may not be valid UTF-8; a bad byte becomes
// U+FFFD rather than failing the whole export.
std::string json_line(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string csv_bits(std::uint64_t v) { return fmt::format("{:#x}", v); }

std::string csv_list(const auto& v) { return csv_field(fmt::format("{}", fmt::join(v, ","))); }

void write_row(std::ostream& out, std::initializer_list<std::string> fields) {
  bool first = true;
  for (const std::string& f : fields) {
    if (!first) out << ',';
    out << f;
    first = false;
  }
  out << '\n';
}

void write_campaign_csv(const ResultsDb& db, const std::string& path) {
  const CampaignInfo c = db.campaign();
  OutputFile f(path);
  write_row(f.stream(),
            {"config_yaml", "config_hash", "model_path", "model_sha256", "dnnfi_version", "machine",
             "seed", "trials_planned", "shard_index", "shard_count", "started_at"});
  write_row(f.stream(), {csv_field(c.config_yaml), csv_field(c.config_hash),
                         csv_field(c.model_path), csv_field(c.model_sha256),
                         csv_field(c.dnnfi_version), csv_field(c.machine), std::to_string(c.seed),
                         std::to_string(c.trials_planned), std::to_string(c.shard_index),
                         std::to_string(c.shard_count), csv_field(c.started_at)});
  f.close();
}

void write_inputs_csv(const ResultsDb& db, const std::string& path) {
  OutputFile f(path);
  write_row(f.stream(), {"input_index", "dataset_index", "label", "golden_label", "correct"});
  for (const InputRecord& in : db.inputs()) {
    write_row(f.stream(),
              {std::to_string(in.index), std::to_string(in.dataset_index), std::to_string(in.label),
               std::to_string(in.golden_label), in.correct ? "1" : "0"});
  }
  f.close();
}

void write_trials_and_faults_csv(const ResultsDb& db, const std::string& trials_path,
                                 const std::string& faults_path) {
  OutputFile trials(trials_path);
  OutputFile faults(faults_path);
  write_row(trials.stream(),
            {"id", "input_index", "label", "golden_label", "faulty_label", "golden_in_top5",
             "outcome", "error", "nodes_computed", "duration_s"});
  write_row(faults.stream(), {"trial_id", "ordinal", "site_kind", "node", "op_type", "value",
                              "flat_index", "coords", "model", "bits", "bit", "dtype",
                              "bits_before", "bits_after", "value_before", "value_after"});
  for_each_trial(db, [&](const TrialRecord& t) {
    write_row(trials.stream(),
              {std::to_string(t.id), std::to_string(t.input_index), std::to_string(t.label),
               std::to_string(t.golden_label), std::to_string(t.faulty_label),
               t.golden_in_top5 ? "1" : "0", csv_field(t.outcome), csv_field(t.error),
               std::to_string(t.nodes_computed), csv_double(t.duration_s)});
    for (const FaultRecord& x : t.faults) {
      write_row(faults.stream(),
                {std::to_string(t.id), std::to_string(x.ordinal), csv_field(x.site_kind),
                 csv_field(x.node), csv_field(x.op_type), csv_field(x.value),
                 std::to_string(x.flat_index), csv_list(x.coords), csv_field(x.model),
                 csv_list(x.bits), x.bits.size() == 1 ? std::to_string(x.bits[0]) : "",
                 csv_field(x.dtype), csv_bits(x.bits_before), csv_bits(x.bits_after),
                 csv_double(x.value_before), csv_double(x.value_after)});
    }
  });
  trials.close();
  faults.close();
}

}  // namespace

void export_csv(const ResultsDb& db, const std::string& out_dir) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec || !fs::is_directory(out_dir)) {
    throw InputError(fmt::format("{}: cannot create export directory: {}", out_dir,
                                 ec ? ec.message() : "a file of that name exists"));
  }
  const fs::path dir(out_dir);
  write_campaign_csv(db, (dir / "campaign.csv").string());
  write_inputs_csv(db, (dir / "inputs.csv").string());
  write_trials_and_faults_csv(db, (dir / "trials.csv").string(), (dir / "faults.csv").string());
}

void export_json(const ResultsDb& db, const std::string& out_path) {
  // Written element by element (one trial a line) rather than built as one document in memory.
  OutputFile f(out_path);
  std::ostream& out = f.stream();
  out << "{\"campaign\": " << json_line(campaign_json(db.campaign())) << ",\n\"inputs\": [";
  bool first = true;
  for (const InputRecord& in : db.inputs()) {
    out << (first ? "\n" : ",\n") << json_line(input_json(in));
    first = false;
  }
  out << "],\n\"trials\": [";
  first = true;
  for_each_trial(db, [&](const TrialRecord& t) {
    out << (first ? "\n" : ",\n") << json_line(trial_json(t));
    first = false;
  });
  out << "]}\n";
  f.close();
}

}  // namespace dnnfi
